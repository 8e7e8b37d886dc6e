import {
  type CheckReport,
  type FileComparison,
  type SyncAction,
  type SyncFailure,
  type SyncPlan,
  type SyncReport,
  applySync,
  checkPeers,
  checkSummary,
  planSync,
  syncSummary,
} from "../../client";
import type { AppContext } from "../context";
import { openDialog } from "../dialog";
import { formatBytes, h, uid } from "../dom";
import { showInfo } from "../messages";
import { type PeerPicker, otherPeers, peerPicker } from "../peers";

/** Most rows a report or plan table shows; the counts above it are always whole. */
const SHOWN_ROWS = 500;

const STATUS_TEXT: Record<FileComparison["status"], string> = {
  identical: "identical",
  differs: "differs",
  onlyA: "only on A",
  onlyB: "only on B",
};

const where = (folder: string) => `/${folder}`;
const shortSha = (sha: string | null | undefined) => (sha ? `${sha.slice(0, 12)}…` : "—");

/** The destination peer, its token and the folder there; null when there is no other peer. */
async function destination(ctx: AppContext, prefix: string): Promise<{ picker: PeerPicker; folder: HTMLInputElement } | null> {
  let known: Awaited<ReturnType<typeof otherPeers>>;
  try {
    known = await otherPeers(ctx);
  } catch (err) {
    ctx.fail(err, "Could not read the known peers");
    return null;
  }
  if (!known.length) {
    showInfo("This peer knows no other peer (its PEERS var is empty), so there is nothing to compare with.");
    return null;
  }
  const folder = h("input", { id: uid("as"), type: "text", value: prefix, spellcheck: false, autocomplete: "off" });
  return { picker: peerPicker(known), folder };
}

/** A table of rows, at most SHOWN_ROWS of them, with a line saying how many more there are. */
function capped<T>(items: T[], head: string[], row: (item: T) => HTMLTableRowElement, testid: string): HTMLElement {
  return h(
    "div",
    { class: "report" },
    h(
      "table",
      { class: "table stack", "data-testid": testid },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h("tbody", {}, items.slice(0, SHOWN_ROWS).map(row)),
    ),
    items.length > SHOWN_ROWS ? h("p", { class: "hint" }, `…and ${items.length - SHOWN_ROWS} more.`) : null,
  );
}

/**
 * "Compare with peer…": what differs between `prefix` here (A) and a folder on another peer
 * (B), by name, size and SHA-256 from the two listings alone (`checkPeers`), in a table.
 */
export async function compareWithPeer(ctx: AppContext, prefix: string): Promise<void> {
  const chosen = await destination(ctx, prefix);
  if (!chosen) return;
  const { picker, folder } = chosen;
  let report: CheckReport | undefined;
  const listed = h("p", { class: "hint", role: "status", "data-testid": "listed" });
  const confirmed = await openDialog({
    title: `Compare ${where(prefix)} with another peer`,
    body: [
      h("p", { class: "hint" }, "Names, sizes and SHA-256 from both listings; no file is read. A is this peer, B the destination."),
      picker.fields,
      h("label", { for: folder.id }, "Folder there"),
      folder,
      listed,
    ],
    confirm: "Compare",
    onConfirm: async () => {
      try {
        report = await checkPeers(ctx.client, picker.client(), {
          prefix,
          as: folder.value.trim(),
          onListed: (l) => {
            listed.textContent = `Listed ${l.files.a} here, ${l.files.b} there…`;
          },
        });
        picker.remember();
      } catch (err) {
        throw picker.explain(err);
      }
    },
  });
  if (!confirmed || !report) return;
  const b = picker.peer().name;
  await openDialog({
    title: `${where(report.prefix)} on ${ctx.peerName} (A) and ${where(report.as)} on ${b} (B)`,
    wide: true,
    body: [
      h("p", { class: "summary", "data-testid": "check-summary" }, checkSummary(report)),
      report.comparedBySize.length
        ? h("p", { class: "hint" }, `${report.comparedBySize.length} counted identical by size alone: one side has no SHA-256 for them.`)
        : null,
      report.differences.length
        ? capped(
            report.differences,
            ["Status", "File", "Size on A", "Size on B", "SHA-256 on A", "SHA-256 on B"],
            (d) =>
              h(
                "tr",
                { "data-status": d.status, "data-path": d.path },
                h(
                  "td",
                  { "data-label": "Status" },
                  h("span", { class: `badge ${d.status === "differs" ? "bad" : "pending"}` }, STATUS_TEXT[d.status]),
                ),
                h("td", { "data-label": "File" }, h("code", {}, d.path)),
                h("td", { "data-label": "Size on A", class: "num" }, d.a ? formatBytes(d.a.size) : "—"),
                h("td", { "data-label": "Size on B", class: "num" }, d.b ? formatBytes(d.b.size) : "—"),
                h("td", { "data-label": "SHA-256 on A" }, h("code", {}, shortSha(d.a?.sha256))),
                h("td", { "data-label": "SHA-256 on B" }, h("code", {}, shortSha(d.b?.sha256))),
              ),
            "check-report",
          )
        : h("p", { class: "check ok" }, "Identical: every file is on both peers with the same SHA-256."),
    ],
  });
}

const REASON_TEXT: Record<SyncAction["reason"], string> = { onlyA: "only here", differs: "differs", onlyB: "only there" };

/** The plan as a reader checks it before anything changes. */
function planBody(plan: SyncPlan): HTMLElement[] {
  const actions = [...plan.copies, ...plan.deletes];
  return [
    h(
      "p",
      { class: "summary", "data-testid": "sync-plan" },
      `Copy ${plan.copies.length} (${formatBytes(plan.bytes)}), delete ${plan.deletes.length}, ${plan.identical} identical`,
      plan.kept ? `, ${plan.kept} only there kept` : "",
      ".",
    ),
    actions.length
      ? capped(
          actions,
          ["Action", "File", "Size", "Why"],
          (a) =>
            h(
              "tr",
              { "data-op": a.op, "data-path": a.path },
              h("td", { "data-label": "Action" }, h("span", { class: `badge ${a.op === "delete" ? "bad" : "pending"}` }, a.op)),
              h("td", { "data-label": "File" }, h("code", {}, a.path)),
              h("td", { "data-label": "Size", class: "num" }, formatBytes(a.size)),
              h("td", { "data-label": "Why" }, REASON_TEXT[a.reason]),
            ),
          "sync-actions",
        )
      : h("p", { class: "check ok" }, "Nothing to do: the destination is already identical."),
  ];
}

/**
 * "Sync to peer…": makes a folder on another peer identical to `prefix` here. The plan is
 * shown first (nothing changes until it is confirmed), then progress (files and bytes), then
 * the summary and every failure. Copies are pulled by the destination from links this peer
 * signs, each SHA-256 verified on arrival; closing the dialog stops starting new copies.
 */
export async function syncToPeer(ctx: AppContext, prefix: string): Promise<void> {
  const chosen = await destination(ctx, prefix);
  if (!chosen) return;
  const { picker, folder } = chosen;
  const deleteBox = h("input", { id: uid("delete"), type: "checkbox" });
  let plan: SyncPlan | undefined;
  const planned = await openDialog({
    title: `Sync ${where(prefix)} to another peer`,
    body: [
      h("p", { class: "hint" }, "The destination's folder is made identical to this one. You see the plan before anything changes."),
      picker.fields,
      h("label", { for: folder.id }, "Folder there"),
      folder,
      h("div", { class: "checkbox" }, deleteBox, h("label", { for: deleteBox.id }, "Also delete files that are only there")),
    ],
    confirm: "Show the plan",
    onConfirm: async () => {
      try {
        plan = await planSync(ctx.client, picker.client(), { prefix, as: folder.value.trim(), delete: deleteBox.checked });
        picker.remember();
      } catch (err) {
        throw picker.explain(err);
      }
    },
  });
  if (!planned || !plan) return;
  const thePlan = plan;
  const b = picker.peer().name;
  if (thePlan.copies.length + thePlan.deletes.length === 0) {
    await openDialog({ title: `${where(thePlan.as)} on ${b} is up to date`, body: planBody(thePlan) });
    return;
  }

  const bar = h("progress", { max: Math.max(1, thePlan.bytes), value: 0, "aria-label": "Bytes copied", "data-testid": "sync-progress" });
  const counts = h("p", { class: "hint", role: "status", "data-testid": "sync-counts" }, "Not started.");
  const stop = new AbortController();
  let report: SyncReport | undefined;
  let running: Promise<SyncReport> | undefined;
  await openDialog({
    title: `Sync ${where(thePlan.prefix)} to ${where(thePlan.as)} on ${b}`,
    wide: true,
    body: [...planBody(thePlan), h("div", { class: "sync-progress" }, bar, counts)],
    confirm: "Sync",
    onConfirm: async () => {
      // Closing the dialog while it runs stops new copies; those in flight finish.
      bar.closest("dialog")?.addEventListener("close", () => stop.abort(), { once: true });
      try {
        running = applySync(ctx.client, picker.client(), thePlan, {
          stop: stop.signal,
          onProgress: (p) => {
            bar.max = Math.max(1, p.bytes.total);
            bar.value = p.bytes.done;
            counts.textContent = `${p.files.done} of ${p.files.total} files, ${formatBytes(p.bytes.done)} of ${formatBytes(p.bytes.total)}`;
          },
        });
        report = await running;
      } catch (err) {
        // Shown in the dialog; nothing more to wait for once it closes.
        running = undefined;
        throw picker.explain(err);
      }
    },
  });
  // Closed while running: the copies in flight end, then the reader sees what was done.
  if (!report && running) {
    try {
      report = await running;
    } catch (err) {
      return ctx.fail(picker.explain(err), "The sync failed");
    }
  }
  if (!report) return;
  await showSyncReport(report, b);
}

async function showSyncReport(report: SyncReport, peerName: string): Promise<void> {
  const failed: SyncFailure[] = report.failed;
  await openDialog({
    title: report.failed.length || report.interrupted ? `Sync to ${peerName}: not everything was done` : `Synced to ${peerName}`,
    wide: true,
    body: [
      h("p", { class: "summary", "data-testid": "sync-summary" }, syncSummary(report, formatBytes)),
      report.interrupted
        ? h(
            "p",
            { class: "hint", "data-testid": "sync-stopped" },
            `Stopped: ${report.notStarted} steps not started. Sync again to finish; only what is left moves.`,
          )
        : null,
      report.deletesSkipped ? h("p", { class: "hint" }, `${report.deletesSkipped} deletes skipped because a copy failed.`) : null,
      failed.length
        ? capped(
            failed,
            ["File", "Error"],
            (f) =>
              h(
                "tr",
                { "data-path": f.action.path },
                h("td", { "data-label": "File" }, h("code", {}, f.action.path)),
                h("td", { "data-label": "Error" }, h("code", { class: "code" }, f.code), " ", f.message),
              ),
            "sync-failures",
          )
        : null,
    ],
  });
}
