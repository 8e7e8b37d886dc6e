import { PeerClient, PeerError, type PeerRef, type ReplicationRuleStatus } from "../../client";
import type { AppContext, View } from "../context";
import { confirmDanger, openDialog } from "../dialog";
import { formatDate, h, mount, uid } from "../dom";
import { showInfo } from "../messages";
import { otherPeers } from "../peers";
import { forgetPeerToken, peerToken, storePeerToken } from "../session";

/** How often the rules' status is read again while the view is open (pending counts move by themselves). */
const REFRESH_MS = 5000;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A rule id from a prefix: `photos/2025/` → `photos-2025` (the reader may change it). */
export function ruleIdFor(prefix: string): string {
  const id = prefix
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+|-+$/g, "")
    .slice(0, 64);
  return id || "all";
}

/** 1234 → "1.2 s"; null → "—". */
export function formatLag(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A folder as a rule wants it: "" or ending in `/`, no leading `/`. */
const asFolder = (text: string) => {
  const t = text.trim().replace(/^\/+/, "");
  return t === "" || t.endsWith("/") ? t : `${t}/`;
};

/**
 * Replication: every rule of this peer with its delivery status (pending, delivered, last
 * success, lag, last error, dead-lettered), add a rule, remove one, reconcile now.
 */
export function replicationView(ctx: AppContext): View {
  let peers: PeerRef[] = [];
  let shown = "";
  const rows = h("tbody", { "data-testid": "rule-rows" });

  const prefixInput = h("input", {
    id: "rule-prefix",
    type: "text",
    placeholder: "photos/ (empty: every file)",
    spellcheck: false,
    autocomplete: "off",
  });
  const idInput = h("input", {
    id: "rule-id",
    type: "text",
    required: true,
    maxLength: 64,
    spellcheck: false,
    autocomplete: "off",
    pattern: RULE_ID.source,
  });
  const peerSelect = h("select", { id: "rule-to", required: true });
  const asInput = h("input", {
    id: "rule-as",
    type: "text",
    placeholder: "same as the folder here",
    spellcheck: false,
    autocomplete: "off",
  });
  const tokenInput = h("input", {
    id: "rule-token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: false,
    "aria-describedby": "rule-token-help",
  });
  const deletesName = uid("deletes");
  const mirror = h("input", { type: "radio", id: "rule-mirror", name: deletesName, value: "mirror", checked: true });
  const keep = h("input", { type: "radio", id: "rule-keep", name: deletesName, value: "keep" });
  let idTouched = false;
  idInput.addEventListener("input", () => {
    idTouched = true;
  });
  prefixInput.addEventListener("input", () => {
    if (!idTouched) idInput.value = ruleIdFor(asFolder(prefixInput.value));
  });

  const form = h(
    "form",
    { class: "editor", "aria-labelledby": "rule-form-title" },
    h("h2", { id: "rule-form-title" }, "Add a rule"),
    h("label", { for: "rule-prefix" }, "Folder here"),
    prefixInput,
    h("label", { for: "rule-id" }, "Rule id"),
    idInput,
    h("label", { for: "rule-to" }, "Destination peer"),
    peerSelect,
    h("label", { for: "rule-as" }, "Folder there"),
    asInput,
    h("label", { for: "rule-token" }, "Destination's token"),
    tokenInput,
    h(
      "p",
      { id: "rule-token-help", class: "hint" },
      "A scoped token minted on the destination (its Access tab, or below with its peer token): write on the folder there, read for reconciling, delete to mirror deletes. Stored by this peer and never shown again.",
    ),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => void mintThere() }, "Mint one there…")),
    h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "When a file is deleted here"),
      h("div", { class: "checkbox" }, mirror, h("label", { for: "rule-mirror" }, "delete its copy there (mirror)")),
      h("div", { class: "checkbox" }, keep, h("label", { for: "rule-keep" }, "keep its copy there (keep)")),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add rule")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void addRule();
  });

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "replication-title" },
    h(
      "div",
      { class: "view-head" },
      h("h1", { id: "replication-title" }, "Replication"),
      h("button", { type: "button", onclick: () => void load() }, "Refresh"),
    ),
    h(
      "p",
      { class: "hint" },
      "Nothing leaves this peer unless a rule says so. Each write or delete under a rule's folder is delivered to the destination in the background, retried, and reconciled on a schedule.",
    ),
    h(
      "section",
      { class: "card", "aria-label": "Rules" },
      h("h2", {}, "Rules"),
      h(
        "table",
        { class: "table stack rules" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Rule", "Folder here", "To", "Deletes", "Pending", "Delivered", "Last success", "Lag", "Failed", "Last error"].map((t) =>
              h("th", { scope: "col" }, t),
            ),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        rows,
      ),
    ),
    h("section", { class: "card" }, form),
  );

  function ruleRow(rule: ReplicationRuleStatus): HTMLTableRowElement {
    const healthy = !rule.lastError && rule.failed === 0;
    return h(
      "tr",
      { "data-rule": rule.id },
      h("td", { "data-label": "Rule" }, h("code", {}, rule.id)),
      h("td", { "data-label": "Folder here" }, h("code", {}, `/${rule.prefix}`)),
      h("td", { "data-label": "To" }, rule.to, " ", h("code", {}, `/${rule.as}`)),
      h("td", { "data-label": "Deletes" }, rule.deletes),
      h("td", { "data-label": "Pending", class: "num", "data-testid": "pending" }, rule.pending),
      h("td", { "data-label": "Delivered", class: "num", "data-testid": "delivered" }, rule.delivered),
      h("td", { "data-label": "Last success", "data-testid": "last-success" }, formatDate(rule.lastSuccess)),
      h("td", { "data-label": "Lag", class: "num" }, formatLag(rule.lagMs)),
      h(
        "td",
        { "data-label": "Failed", class: "num", "data-testid": "failed" },
        h("span", { class: rule.failed ? "badge bad" : "badge ok" }, rule.failed),
      ),
      h(
        "td",
        { "data-label": "Last error", "data-testid": "last-error" },
        rule.lastError
          ? [h("span", { class: "error-text" }, rule.lastError), " ", h("span", { class: "hint" }, formatDate(rule.lastErrorAt))]
          : healthy
            ? "—"
            : "",
      ),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", "aria-label": `Reconcile ${rule.id} now`, onclick: () => void reconcile(rule) }, "Reconcile now"),
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Remove rule ${rule.id}`, onclick: () => void remove(rule) },
          "Remove",
        ),
      ),
    );
  }

  async function load(): Promise<void> {
    try {
      const rules = await ctx.client.replicationRules();
      // Unchanged status: leave the rows (and the keyboard focus in them) alone.
      const now = JSON.stringify(rules);
      if (now === shown) return;
      shown = now;
      const focused = rows.contains(document.activeElement) ? document.activeElement?.getAttribute("aria-label") : null;
      mount(
        rows,
        rules.length
          ? rules.map(ruleRow)
          : h("tr", {}, h("td", { colspan: 11, class: "empty" }, "No rules: nothing is replicated. Add one below.")),
      );
      if (focused) rows.querySelector<HTMLElement>(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    } catch (err) {
      ctx.fail(err, "Could not list the replication rules");
    }
  }

  async function loadPeers(): Promise<void> {
    try {
      peers = await otherPeers(ctx);
      mount(
        peerSelect,
        peers.length
          ? peers.map((p) => h("option", { value: p.name }, `${p.name} — ${p.url}`))
          : h("option", { value: "", disabled: true }, "no other peer known (PEERS)"),
      );
    } catch (err) {
      ctx.fail(err, "Could not read the known peers");
    }
  }

  /**
   * Mints the rule's token on the destination, with the destination's own peer token (typed
   * here, sent only to the destination): just the operations the rule needs, on the folder there.
   */
  async function mintThere(): Promise<void> {
    const peer = peers.find((p) => p.name === peerSelect.value);
    if (!peer) return ctx.fail(new Error("Choose the destination peer first."), "Could not mint a token there");
    const folderThere = asInput.value.trim() ? asFolder(asInput.value) : asFolder(prefixInput.value);
    const ops: Array<"read" | "write" | "delete"> = keep.checked ? ["read", "write"] : ["read", "write", "delete"];
    const secret = h("input", {
      id: uid("peer-token"),
      type: "password",
      autocomplete: "off",
      spellcheck: false,
      required: true,
      value: peerToken(peer.url),
    });
    await openDialog({
      title: `Mint the rule's token on ${peer.name}`,
      body: [
        h(
          "p",
          { class: "hint" },
          `${peer.name} mints a token that may ${ops.join(", ")} under /${folderThere} only. Its own peer token is needed to ask; it is sent to ${peer.name} alone and kept for this tab.`,
        ),
        h("label", { for: secret.id }, `${peer.name}'s peer token`),
        secret,
      ],
      confirm: "Mint",
      onConfirm: async () => {
        const there = new PeerClient({ url: peer.url, token: secret.value.trim(), name: peer.name });
        try {
          const minted = await there.createToken({ ops, prefix: folderThere, label: `replication from ${ctx.peerName}` });
          storePeerToken(peer.url, secret.value.trim());
          tokenInput.value = minted.token;
          showInfo(`${peer.name} minted a token (${ops.join(", ")} under /${folderThere}); it is in the form, ready to add the rule.`);
        } catch (err) {
          if (err instanceof PeerError && err.status === 401) forgetPeerToken(peer.url);
          throw err;
        }
      },
    });
  }

  async function addRule(): Promise<void> {
    const prefix = asFolder(prefixInput.value);
    const id = idInput.value.trim() || ruleIdFor(prefix);
    const to = peerSelect.value;
    if (!to) return ctx.fail(new Error("Choose the destination peer."), "Could not add the rule");
    const as = asInput.value.trim() ? asFolder(asInput.value) : undefined;
    try {
      const rule = await ctx.client.putReplicationRule(id, {
        prefix,
        to,
        as,
        token: tokenInput.value.trim(),
        deletes: keep.checked ? "keep" : "mirror",
      });
      tokenInput.value = "";
      showInfo(`Rule ${rule.id}: /${rule.prefix} is replicated to ${rule.to} /${rule.as}.`);
      await load();
    } catch (err) {
      ctx.fail(err, "Could not add the rule");
    }
  }

  async function reconcile(rule: ReplicationRuleStatus): Promise<void> {
    try {
      await ctx.client.reconcileReplication(rule.id);
      showInfo(`Reconciling ${rule.id}: every difference with ${rule.to} is queued.`);
      await load();
    } catch (err) {
      ctx.fail(err, `Could not reconcile ${rule.id}`);
    }
  }

  async function remove(rule: ReplicationRuleStatus): Promise<void> {
    const text = `Nothing more under /${rule.prefix} goes to ${rule.to}. Copies already there stay.`;
    if (!(await confirmDanger(`Remove rule ${rule.id}?`, text, "Remove"))) return;
    try {
      await ctx.client.deleteReplicationRule(rule.id);
      showInfo(`Removed rule ${rule.id}.`);
    } catch (err) {
      ctx.fail(err, `Could not remove ${rule.id}`);
    }
    await load();
  }

  void loadPeers();
  void load();
  const timer = setInterval(() => {
    if (!document.hidden) void load();
  }, REFRESH_MS);
  return { element, dispose: () => clearInterval(timer) };
}
