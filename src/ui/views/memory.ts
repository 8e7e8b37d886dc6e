import type { MemoryKey } from "../../client";
import type { AppContext, View } from "../context";
import { confirmDanger } from "../dialog";
import { formatDate, formatJson, h, mount, parseJson } from "../dom";
import { showInfo } from "../messages";

/** Memory: list keys (filtered by prefix), view a value, set one with a JSON editor, delete. */
export function memoryView(ctx: AppContext): View {
  let keys: MemoryKey[] = [];
  let cursor: string | null = null;

  const filter = h("input", { id: "memory-filter", type: "search", placeholder: "key prefix", autocomplete: "off", spellcheck: false });
  const rows = h("tbody", { "data-testid": "memory-rows" });
  const more = h("button", { type: "button", hidden: true, onclick: () => void loadPage(false) }, "Load more");

  const keyInput = h("input", { id: "memory-key", type: "text", required: true, autocomplete: "off", spellcheck: false, maxLength: 480 });
  const valueInput = h("textarea", {
    id: "memory-value",
    rows: 8,
    class: "mono",
    spellcheck: false,
    "aria-describedby": "memory-value-check",
  });
  const ttlInput = h("input", { id: "memory-ttl", type: "number", min: 60, step: 1, placeholder: "never expires", inputMode: "numeric" });
  const check = h("p", { id: "memory-value-check", class: "check", "aria-live": "polite" });
  const save = h("button", { type: "submit", class: "primary" }, "Save");

  const filterForm = h(
    "form",
    { class: "inline-form", role: "search" },
    h("label", { for: "memory-filter" }, "Filter"),
    filter,
    h("button", { type: "submit" }, "Apply"),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void loadPage(true);
  });

  const editor = h(
    "form",
    { class: "editor", "aria-labelledby": "memory-editor-title" },
    h("h2", { id: "memory-editor-title" }, "Set a key"),
    h("label", { for: "memory-key" }, "Key"),
    keyInput,
    h("label", { for: "memory-value" }, "Value (any JSON: a number, a string in quotes, an object…)"),
    valueInput,
    check,
    h("label", { for: "memory-ttl" }, "Expires after (seconds, at least 60; empty: never)"),
    ttlInput,
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: () => fill("", "") }, "Clear")),
  );
  valueInput.addEventListener("input", validate);
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    void setKey();
  });

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "memory-title" },
    h("div", { class: "view-head" }, h("h1", { id: "memory-title" }, "Memory"), filterForm),
    h(
      "div",
      { class: "split" },
      h(
        "section",
        { class: "card", "aria-label": "Keys" },
        h("h2", {}, "Keys"),
        h(
          "table",
          { class: "table stack" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, "Key"),
              h("th", { scope: "col" }, "Expires"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
            ),
          ),
          rows,
        ),
        more,
      ),
      h("section", { class: "card" }, editor),
    ),
  );

  /** Says whether the value is JSON; Save stays off until it is. */
  function validate(): boolean {
    const text = valueInput.value.trim();
    const parsed = text ? parseJson(text) : null;
    valueInput.setAttribute("aria-invalid", String(parsed !== null && !parsed.ok));
    check.className = parsed === null ? "check" : parsed.ok ? "check ok" : "check bad";
    check.textContent = parsed === null ? "Type a JSON value." : parsed.ok ? "Valid JSON." : `Not JSON: ${parsed.error}`;
    save.disabled = !parsed?.ok;
    return parsed?.ok === true;
  }

  function fill(key: string, valueText: string): void {
    keyInput.value = key;
    valueInput.value = valueText;
    ttlInput.value = "";
    validate();
  }

  async function loadPage(fresh: boolean): Promise<void> {
    try {
      const page = await ctx.client.listMemory({ prefix: filter.value, cursor: fresh ? undefined : (cursor ?? undefined) });
      keys = fresh ? page.keys : [...keys, ...page.keys];
      cursor = page.cursor;
      mount(
        rows,
        keys.length
          ? keys.map(keyRow)
          : h(
              "tr",
              {},
              h("td", { colspan: 3, class: "empty" }, filter.value ? `No key starts with "${filter.value}".` : "No keys yet: set one."),
            ),
      );
      more.hidden = !cursor;
    } catch (err) {
      ctx.fail(err, "Could not list the memory keys");
    }
  }

  function keyRow(entry: MemoryKey): HTMLTableRowElement {
    return h(
      "tr",
      { "data-key": entry.key },
      h("td", { "data-label": "Key" }, h("code", { class: "key" }, entry.key)),
      h("td", { "data-label": "Expires" }, entry.expires ? formatDate(entry.expires) : "never"),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", "aria-label": `View ${entry.key}`, onclick: () => void view(entry.key) }, "View"),
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Delete ${entry.key}`, onclick: () => void remove(entry.key) },
          "Delete",
        ),
      ),
    );
  }

  async function view(key: string): Promise<void> {
    try {
      fill(key, formatJson(await ctx.client.getMemory(key)));
      valueInput.focus();
    } catch (err) {
      ctx.fail(err, `Could not read "${key}"`);
    }
  }

  async function setKey(): Promise<void> {
    const key = keyInput.value;
    if (!validate() || !key) return;
    const parsed = parseJson(valueInput.value);
    if (!parsed.ok) return;
    const ttl = ttlInput.value ? Number(ttlInput.value) : undefined;
    try {
      await ctx.client.setMemory(key, parsed.value, ttl);
      showInfo(`Saved "${key}".`);
      await loadPage(true);
    } catch (err) {
      ctx.fail(err, `Could not save "${key}"`);
    }
  }

  async function remove(key: string): Promise<void> {
    if (!(await confirmDanger(`Delete "${key}"?`, `The key "${key}" and its value will be deleted from ${ctx.peerName}.`, "Delete")))
      return;
    try {
      await ctx.client.deleteMemory(key);
      showInfo(`Deleted "${key}".`);
      if (keyInput.value === key) fill("", "");
    } catch (err) {
      ctx.fail(err, `Could not delete "${key}"`);
    }
    await loadPage(true);
  }

  fill("", "");
  void loadPage(true);
  return { element };
}
