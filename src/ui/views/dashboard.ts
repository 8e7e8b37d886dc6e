import { PeerClient, type PeerRef } from "../../client";
import type { AppContext, View } from "../context";
import { formatBytes, formatDate, h, mount } from "../dom";
import { describeError } from "../messages";

const HEALTH_TIMEOUT_MS = 5000;

/** The peer's name, version and numbers, and which of the peers it knows answer. */
export function dashboardView(ctx: AppContext): View {
  const identity = h("dl", { class: "facts", "data-testid": "identity" });
  const stats = h("div", { class: "stat-grid", "data-testid": "stats" });
  const peers = h("tbody", { "data-testid": "peers" });
  const refresh = h("button", { type: "button", onclick: () => void load() }, "Refresh");

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "dashboard-title" },
    h("div", { class: "view-head" }, h("h1", { id: "dashboard-title" }, "Dashboard"), refresh),
    h("section", { class: "card" }, h("h2", {}, "This peer"), identity),
    h("section", { class: "card" }, h("h2", {}, "Numbers"), stats),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Known peers"),
      h(
        "table",
        { class: "table stack" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "Peer"), h("th", { scope: "col" }, "Address"), h("th", { scope: "col" }, "Answers?")),
        ),
        peers,
      ),
    ),
  );

  async function load(): Promise<void> {
    refresh.disabled = true;
    try {
      const [health, numbers, known] = await Promise.all([ctx.client.health(), ctx.client.stats(), ctx.client.peers()]);
      mount(
        identity,
        fact("Name", health.peer),
        fact("Address", location.origin),
        fact("Version", health.version),
        fact("Peer time", formatDate(health.time)),
      );
      const t = numbers.tasks;
      mount(
        stats,
        stat("Files", String(numbers.files.count), formatBytes(numbers.files.bytes)),
        stat("Memory keys", String(numbers.memory.keys), "in KV"),
        stat("Tasks run", String(t.total), `${t.succeeded} succeeded · ${t.failed} failed · ${t.cached} cached`),
        stat("Average task", `${Math.round(t.avgDurationMs)} ms`, "per run"),
        stat("Cached results", String(numbers.cache.entries), "entries"),
      );
      const others = known.filter((p) => p.name !== health.peer && new URL(p.url).origin !== location.origin);
      mount(
        peers,
        others.length
          ? others.map(peerRow)
          : h("tr", {}, h("td", { colspan: 3, class: "empty" }, "This peer knows no other peer (PEERS is empty).")),
      );
    } catch (err) {
      ctx.fail(err, "Could not load the dashboard");
    } finally {
      refresh.disabled = false;
    }
  }

  void load();
  return { element };
}

const fact = (term: string, value: string) => h("div", {}, h("dt", {}, term), h("dd", {}, value));

const stat = (label: string, value: string, detail: string) =>
  h(
    "div",
    { class: "stat", "data-stat": label },
    h("span", { class: "stat-label" }, label),
    h("strong", { class: "stat-value" }, value),
    h("span", { class: "stat-detail" }, detail),
  );

/** One known peer, asked for its health straight from the browser (a public route). */
function peerRow(peer: PeerRef): HTMLTableRowElement {
  const status = h("span", { class: "badge pending" }, "checking…");
  const row = h(
    "tr",
    { "data-peer": peer.name },
    h("td", { "data-label": "Peer" }, h("strong", {}, peer.name)),
    h("td", { "data-label": "Address" }, h("code", {}, peer.url)),
    h("td", { "data-label": "Answers?" }, status),
  );
  const started = performance.now();
  new PeerClient({ url: peer.url, name: peer.name })
    .health(AbortSignal.timeout(HEALTH_TIMEOUT_MS))
    .then((health) => {
      const ms = Math.round(performance.now() - started);
      const as = health.peer === peer.name ? "" : ` as "${health.peer}"`;
      status.className = "badge ok";
      status.textContent = `answers${as} · v${health.version} · ${ms} ms`;
    })
    .catch((err: unknown) => {
      status.className = "badge bad";
      status.textContent = `no answer: ${describeError(err).text}`;
    });
  return row;
}
