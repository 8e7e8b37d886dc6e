import type { ShareInfo, TokenInfo } from "../../client";
import type { AppContext, View } from "../context";
import { confirmDanger } from "../dialog";
import { formatDate, h, mount } from "../dom";
import { showInfo } from "../messages";

const OPS = ["read", "write", "delete", "memory", "tasks"] as const;
/** Units a token's lifetime is typed in, in seconds. */
const TTL_UNITS = [
  { label: "minutes", seconds: 60 },
  { label: "hours", seconds: 3600 },
  { label: "days", seconds: 86400 },
] as const;

/** Access: mint scoped tokens (shown once, with a copy button), list and revoke them and the share links. */
export function accessView(ctx: AppContext): View {
  const opBoxes = OPS.map((op) => h("input", { type: "checkbox", id: `op-${op}`, name: "ops", value: op, checked: op === "read" }));
  const prefixInput = h("input", {
    id: "token-prefix",
    type: "text",
    placeholder: "e.g. photos/ (empty: everything)",
    autocomplete: "off",
    spellcheck: false,
  });
  const ttlInput = h("input", { id: "token-ttl", type: "number", min: 1, step: 1, placeholder: "never expires", inputMode: "numeric" });
  const ttlUnit = h(
    "select",
    { id: "token-ttl-unit", "aria-label": "Unit of the lifetime" },
    TTL_UNITS.map((u) => h("option", { value: u.seconds, selected: u.label === "days" }, u.label)),
  );
  const labelInput = h("input", { id: "token-label", type: "text", maxLength: 200, autocomplete: "off" });
  const minted = h("div", { class: "minted", "data-testid": "minted", hidden: true });
  const tokenRows = h("tbody", { "data-testid": "token-rows" });
  const shareRows = h("tbody", { "data-testid": "share-rows" });

  const form = h(
    "form",
    { class: "editor", "aria-labelledby": "mint-title" },
    h("h2", { id: "mint-title" }, "Mint a token"),
    h(
      "fieldset",
      {},
      h("legend", {}, "It may"),
      OPS.map((op, i) => h("label", { class: "check-option", for: `op-${op}` }, opBoxes[i], ` ${op}`)),
    ),
    h("label", { for: "token-prefix" }, "Only names under"),
    prefixInput,
    h("label", { for: "token-ttl" }, "Expires after (empty: until revoked)"),
    h("div", { class: "inline-form" }, ttlInput, ttlUnit),
    h("label", { for: "token-label" }, "Label"),
    labelInput,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Mint token")),
    minted,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void mint();
  });

  const table = (label: string, heads: string[], body: HTMLElement) =>
    h(
      "section",
      { class: "card", "aria-label": label },
      h("h2", {}, label),
      h(
        "table",
        { class: "table stack" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            heads.map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        body,
      ),
    );

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "access-title" },
    h("div", { class: "view-head" }, h("h1", { id: "access-title" }, "Access")),
    h(
      "div",
      { class: "split" },
      h("section", { class: "card" }, form),
      h(
        "div",
        {},
        table("Tokens", ["Label", "May", "Under", "Expires", ""], tokenRows),
        table("Share links", ["File", "Expires", "Downloads", "Password", ""], shareRows),
      ),
    ),
  );

  async function mint(): Promise<void> {
    const ops = OPS.filter((_, i) => opBoxes[i]?.checked);
    if (ops.length === 0) {
      showInfo("Choose at least one thing the token may do.");
      return;
    }
    try {
      const ttl = ttlInput.value.trim() ? Math.round(Number(ttlInput.value) * Number(ttlUnit.value)) : undefined;
      const token = await ctx.client.createToken({ ops: [...ops], prefix: prefixInput.value.trim(), ttl, label: labelInput.value.trim() });
      const shown = h("input", {
        type: "text",
        readOnly: true,
        value: token.token,
        class: "mono",
        "aria-label": "New token",
        "data-testid": "new-token",
      });
      const copy = h(
        "button",
        {
          type: "button",
          onclick: () => {
            void navigator.clipboard?.writeText(token.token).then(
              () => showInfo("Token copied."),
              () => shown.select(),
            );
          },
        },
        "Copy",
      );
      mount(minted, h("p", { role: "status" }, "Copy it now: it is shown only this once."), shown, copy);
      minted.hidden = false;
      shown.select();
      await load();
    } catch (err) {
      ctx.fail(err, "Could not mint the token");
    }
  }

  function tokenRow(t: TokenInfo): HTMLTableRowElement {
    return h(
      "tr",
      { "data-token": t.id },
      h("td", { "data-label": "Label" }, t.label || h("span", { class: "hint" }, t.id.slice(0, 8))),
      h("td", { "data-label": "May" }, t.ops.join(", ")),
      h("td", { "data-label": "Under" }, t.prefix ? h("code", {}, t.prefix) : "everything"),
      h("td", { "data-label": "Expires" }, t.expires ? formatDate(t.expires) : "when revoked"),
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Revoke token ${t.label || t.id}`, onclick: () => void revokeToken(t) },
          "Revoke",
        ),
      ),
    );
  }

  function shareRow(s: ShareInfo): HTMLTableRowElement {
    return h(
      "tr",
      { "data-share": s.id },
      h("td", { "data-label": "File" }, h("code", {}, s.name)),
      h("td", { "data-label": "Expires" }, formatDate(s.expires)),
      h("td", { "data-label": "Downloads" }, s.maxDownloads === null ? String(s.downloads) : `${s.downloads} of ${s.maxDownloads}`),
      h("td", { "data-label": "Password" }, s.password ? "yes" : "no"),
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Revoke link to ${s.name}`, onclick: () => void revokeShare(s) },
          "Revoke",
        ),
      ),
    );
  }

  async function revokeToken(t: TokenInfo): Promise<void> {
    if (!(await confirmDanger("Revoke this token?", `Requests with "${t.label || t.id}" are refused from now on.`, "Revoke"))) return;
    try {
      await ctx.client.revokeToken(t.id);
      showInfo(`Revoked ${t.label || t.id}.`);
      await load();
    } catch (err) {
      ctx.fail(err, "Could not revoke the token");
    }
  }

  async function revokeShare(s: ShareInfo): Promise<void> {
    if (!(await confirmDanger("Revoke this link?", `The link to ${s.name} answers "gone" from now on.`, "Revoke"))) return;
    try {
      await ctx.client.revokeShare(s.id);
      showInfo(`Revoked the link to ${s.name}.`);
      await load();
    } catch (err) {
      ctx.fail(err, "Could not revoke the link");
    }
  }

  async function load(): Promise<void> {
    try {
      const [tokens, shares] = await Promise.all([ctx.client.listTokens(), ctx.client.listShares()]);
      mount(
        tokenRows,
        tokens.length ? tokens.map(tokenRow) : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No scoped tokens yet.")),
      );
      mount(shareRows, shares.length ? shares.map(shareRow) : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No share links.")));
    } catch (err) {
      ctx.fail(err, "Could not list tokens and links");
    }
  }

  void load();
  return { element };
}
