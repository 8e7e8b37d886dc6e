import {
  type CheckReport,
  type FileComparison,
  type PeerClient,
  PeerError,
  type SyncAction,
  type SyncOptions,
  type SyncPlan,
  type SyncReport,
  type TransferMode,
  applySync,
  checkPeers,
  checkSummary,
  planSync,
  syncSummary,
} from "../../../src/client/index";
import { UsageError } from "../args";
import type { Command } from "../command";
import type { Context } from "../context";
import { Progress, formatBytes } from "../output";
import { resolvePeer } from "./transfer";

export const CHECK_USAGE = "--from PEER --to PEER [--prefix FOLDER] [--as FOLDER] [--from-token T] [--to-token T]";
export const SYNC_USAGE =
  "--from PEER --to PEER [--prefix FOLDER] [--as FOLDER] [--delete] [--dry-run] [--concurrency N] [--mode pull|relay] [--from-token T] [--to-token T]";

/** The flags that give each side of a copy its own token. */
export const TOKEN_FLAGS = {
  "from-token": { kind: "string", value: "TOKEN", help: "the source's token (default: the network file's, else --token)" },
  "to-token": {
    kind: "string",
    value: "TOKEN",
    help: "the destination's token, e.g. a scoped one (default: the network file's, else --token)",
  },
} as const;

/** The folders compared: `prefix` on A, mirrored at `as` on B. */
const FOLDER_FLAGS = {
  prefix: { kind: "string", value: "FOLDER", help: "the folder on A (default: every file)" },
  as: { kind: "string", value: "FOLDER", help: "the folder on B that mirrors it (default: the same)" },
} as const;

/** How a difference is named on its line. */
const LABELS = { differs: "differs", onlyA: "only on A", onlyB: "only on B", identical: "identical" } as const;

export const check: Command = {
  name: "check",
  summary: "compare a folder on two peers by name, size and SHA-256 (exit 0 identical, 1 not)",
  usage: CHECK_USAGE,
  flags: {
    from: { kind: "string", value: "PEER", help: "peer A: a name of the network file or a URL" },
    to: { kind: "string", value: "PEER", help: "peer B" },
    ...FOLDER_FLAGS,
    ...TOKEN_FLAGS,
  },
  async run(ctx) {
    const { a, b } = await twoPeers(ctx);
    const lines = !ctx.json;
    const report = await checkPeers(a, b, {
      prefix: ctx.flags.string("prefix"),
      as: ctx.flags.string("as"),
      onDifference: lines ? (d) => ctx.print(differenceLine(d)) : undefined,
    });
    if (ctx.json) ctx.printJson(checkJson(a, b, report));
    else {
      for (const file of report.comparedBySize) ctx.print(sizeOnlyLine(file));
      ctx.print(checkSummary(report));
    }
    return report.differences.length === 0 ? 0 : 1;
  },
};

export const sync: Command = {
  name: "sync",
  summary: "make a folder on one peer identical to another's (copies what differs, verified by SHA-256)",
  usage: SYNC_USAGE,
  flags: {
    from: { kind: "string", value: "PEER", help: "peer A, the source: a name of the network file or a URL" },
    to: { kind: "string", value: "PEER", help: "peer B, made identical to A" },
    ...FOLDER_FLAGS,
    delete: { kind: "boolean", help: "delete what is only on B (never without this flag)" },
    "dry-run": { kind: "boolean", help: "print the plan, change nothing" },
    concurrency: { kind: "string", value: "N", help: "files moved at once (default 4)" },
    mode: { kind: "string", value: "MODE", help: "pull (B fetches a link A signs; default) or relay (through this process)" },
    ...TOKEN_FLAGS,
  },
  streams: true,
  async run(ctx) {
    const mode = modeOf(ctx);
    const concurrency = ctx.flags.int("concurrency", 1);
    const { a, b } = await twoPeers(ctx);
    const options = {
      prefix: ctx.flags.string("prefix"),
      as: ctx.flags.string("as"),
      delete: ctx.flags.bool("delete"),
      mode,
      concurrency,
    };
    const plan = await planOrUsage(a, b, options);
    if (ctx.flags.bool("dry-run")) {
      if (ctx.json) ctx.printJson({ ...planJson(a, b, plan), dryRun: true });
      else printPlan(ctx, plan);
      return 0;
    }
    const report = await runPlan(ctx, a, b, plan, { ...options, label: "sync" });
    // Failures go to stderr in every output mode: one line each, naming the file.
    for (const f of report.failed) process.stderr.write(`error: ${f.action.to}: ${f.message}\n`);
    if (ctx.json) ctx.printJson(syncJson(a, b, report, mode));
    else {
      if (report.deletesSkipped > 0)
        process.stderr.write(`note: ${report.deletesSkipped} deletes not done because not every copy arrived; run again to do them.\n`);
      if (report.interrupted) process.stderr.write(`note: interrupted; run again to move what is left.\n`);
      ctx.print(syncSummary(report, formatBytes));
    }
    return report.failed.length === 0 && !report.interrupted && report.deletesSkipped === 0 ? 0 : 1;
  },
};

/**
 * Applies a plan with a progress bar (files and bytes) on a terminal; Ctrl-C stops taking new
 * files, lets the ones in flight end, and reports what was done (a rerun does the rest).
 */
export async function runPlan(
  ctx: Context,
  a: PeerClient,
  b: PeerClient,
  plan: SyncPlan,
  options: { mode: TransferMode; concurrency?: number; label: string },
): Promise<SyncReport> {
  const bar = new Progress(options.label, plan.bytes, !ctx.json && Boolean(process.stderr.isTTY));
  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  };
  process.on("SIGINT", onInterrupt);
  try {
    return await applySync(a, b, plan, {
      ...options,
      stop: stop.signal,
      onProgress: (p) => bar.update(p.bytes.done, `${p.files.done}/${p.files.total} files`),
    });
  } finally {
    process.off("SIGINT", onInterrupt);
    bar.done();
  }
}

/** `planSync`, with a folder synced into itself as the usage mistake it is (exit 2). */
export async function planOrUsage(a: PeerClient, b: PeerClient, options: SyncOptions): Promise<SyncPlan> {
  try {
    return await planSync(a, b, options);
  } catch (err) {
    if (err instanceof PeerError && err.code === "bad_request" && err.status === 0) throw new UsageError(err.message);
    throw err;
  }
}

/** Both peers of a check or sync: names of the network file or URLs, each with its own token. */
async function twoPeers(ctx: Context): Promise<{ a: PeerClient; b: PeerClient }> {
  const from = ctx.flags.required("from");
  const to = ctx.flags.required("to");
  if (to.includes(",")) throw new UsageError("--to takes one peer.");
  return { a: await peerWithToken(ctx, from, "from-token"), b: await peerWithToken(ctx, to, "to-token") };
}

/** A peer as `resolvePeer` finds it, with the token of `flag` when given (a scoped token of that peer). */
export async function peerWithToken(ctx: Context, ref: string, flag: "from-token" | "to-token"): Promise<PeerClient> {
  const peer = await resolvePeer(ctx, ref);
  const token = ctx.flags.string(flag);
  return token === undefined ? peer : ctx.clientFor({ name: peer.name, url: peer.url, token });
}

export function modeOf(ctx: Context): TransferMode {
  const mode = ctx.flags.string("mode") ?? "pull";
  if (mode !== "pull" && mode !== "relay") throw new UsageError("--mode is pull or relay.");
  return mode;
}

function differenceLine(d: FileComparison): string {
  const name = d.status === "onlyB" ? d.b?.name : d.a?.name;
  let detail = "";
  if (d.status === "differs" && d.a && d.b) {
    detail =
      d.a.size !== d.b.size ? `  (size ${formatBytes(d.a.size)} on A, ${formatBytes(d.b.size)} on B)` : "  (same size, SHA-256 differs)";
  }
  return `${LABELS[d.status].padEnd(9)}  ${name}${detail}`;
}

function sizeOnlyLine(d: FileComparison): string {
  const side = !d.a?.sha256 && !d.b?.sha256 ? "either side" : !d.a?.sha256 ? "A" : "B";
  return `size only  ${d.a?.name}  (no SHA-256 on ${side}: counted identical by size)`;
}

const fileJson = (f: FileComparison) => ({
  status: f.status,
  path: f.path,
  a: f.a ? { name: f.a.name, size: f.a.size, sha256: f.a.sha256 } : null,
  b: f.b ? { name: f.b.name, size: f.b.size, sha256: f.b.sha256 } : null,
});

function checkJson(a: PeerClient, b: PeerClient, r: CheckReport) {
  return {
    from: a.name,
    to: b.name,
    prefix: r.prefix,
    as: r.as,
    identical: r.identical,
    differ: r.differ,
    onlyOnA: r.onlyOnA,
    onlyOnB: r.onlyOnB,
    differences: r.differences.map(fileJson),
    comparedBySize: r.comparedBySize.map(fileJson),
    pages: r.pages,
  };
}

const actionJson = (x: SyncAction) => ({ op: x.op, path: x.path, from: x.from ?? null, to: x.to, size: x.size, reason: x.reason });

function planJson(a: PeerClient, b: PeerClient, plan: SyncPlan) {
  return {
    from: a.name,
    to: b.name,
    prefix: plan.prefix,
    as: plan.as,
    copies: plan.copies.map(actionJson),
    deletes: plan.deletes.map(actionJson),
    bytes: plan.bytes,
    identical: plan.identical,
    comparedBySize: plan.comparedBySize,
    kept: plan.kept,
    pages: plan.pages,
  };
}

export function syncJson(a: PeerClient, b: PeerClient, r: SyncReport, mode: TransferMode) {
  return {
    ...planJson(a, b, r.plan),
    mode: r.plan.samePeer ? "copy" : mode,
    copied: r.copied,
    copiedBytes: r.copiedBytes,
    copiedVia: r.copiedVia,
    deleted: r.deleted,
    failed: r.failed.map((f) => ({ ...actionJson(f.action), code: f.code, message: f.message })),
    deletesSkipped: r.deletesSkipped,
    interrupted: r.interrupted,
    notStarted: r.notStarted,
  };
}

function printPlan(ctx: Context, plan: SyncPlan): void {
  for (const c of plan.copies) ctx.print(`copy    ${c.to}  (${formatBytes(c.size)}, ${LABELS[c.reason]})`);
  for (const d of plan.deletes) ctx.print(`delete  ${d.to}  (${LABELS.onlyB})`);
  const kept = plan.kept > 0 ? `, kept ${plan.kept} only on B (no --delete)` : "";
  ctx.print(
    `dry run: would copy ${plan.copies.length} (${formatBytes(plan.bytes)}), delete ${plan.deletes.length}, identical ${plan.identical}${kept}`,
  );
}
