import type { TaskResult, TaskSummary } from "../../client";
import type { AppContext, View } from "../context";
import { confirmDanger, openDialog } from "../dialog";
import { formatDate, formatJson, h, mount, parseJson } from "../dom";
import { showInfo } from "../messages";

const HISTORY_PAGE = 20;

/** The original project's examples, as JavaScript. */
const EXAMPLES = [
  { label: "Square", fn: "main", args: "[12]", program: "function main(n) {\n  return n * n;\n}\n" },
  { label: "Add ten", fn: "main", args: "[32]", program: "function main(x) {\n  return x + 10;\n}\n" },
  {
    label: "Factorial",
    fn: "main",
    args: "[20]",
    program: "function main(n) {\n  let f = 1n;\n  for (let i = 2n; i <= BigInt(n); i++) f *= i;\n  return f.toString();\n}\n",
  },
  {
    label: "Sum of squares",
    fn: "sumOfSquares",
    args: "[[1, 2, 3, 4]]",
    program: "function sumOfSquares(xs) {\n  return xs.reduce((s, x) => s + x * x, 0);\n}\n",
  },
  { label: "Throws", fn: "main", args: "[]", program: 'function main() {\n  throw new Error("boom");\n}\n' },
] as const;

/** Tasks: an editor to run a program in the peer's sandbox, the history, the result cache. */
export function tasksView(ctx: AppContext): View {
  const first = EXAMPLES[0];
  const example = h(
    "select",
    { id: "task-example" },
    EXAMPLES.map((e, i) => h("option", { value: i }, e.label)),
  );
  const program = h("textarea", { id: "task-program", rows: 10, class: "mono", spellcheck: false, value: first.program });
  const fnInput = h("input", {
    id: "task-function",
    type: "text",
    value: first.fn,
    required: true,
    spellcheck: false,
    autocomplete: "off",
  });
  const argsInput = h("textarea", {
    id: "task-args",
    rows: 2,
    class: "mono",
    spellcheck: false,
    value: first.args,
    "aria-describedby": "task-args-check",
  });
  const argsCheck = h("p", { id: "task-args-check", class: "check", "aria-live": "polite" });
  const timeout = h("input", { id: "task-timeout", type: "number", min: 1, step: 1, placeholder: "peer default", inputMode: "numeric" });
  const useCache = h("input", { id: "task-cache", type: "checkbox", checked: true });
  const run = h("button", { type: "submit", class: "primary" }, "Run");
  const result = h("div", { class: "result", "aria-live": "polite", "data-testid": "task-result" });

  const status = h(
    "select",
    { id: "history-status" },
    h("option", { value: "" }, "All"),
    h("option", { value: "succeeded" }, "Succeeded"),
    h("option", { value: "failed" }, "Failed"),
  );
  const rows = h("tbody", { "data-testid": "history-rows" });
  const newer = h("button", { type: "button", onclick: () => void pageBack() }, "← Newer");
  const older = h("button", { type: "button", onclick: () => void pageOn() }, "Older →");
  const pageLabel = h("span", { class: "hint" });
  const cacheLine = h("p", { "data-testid": "cache-info" }, "…");

  example.addEventListener("change", () => {
    const chosen = EXAMPLES[Number(example.value)] ?? first;
    program.value = chosen.program;
    fnInput.value = chosen.fn;
    argsInput.value = chosen.args;
    checkArgs();
  });
  argsInput.addEventListener("input", checkArgs);
  status.addEventListener("change", () => void loadHistory([]));

  const form = h(
    "form",
    { class: "editor", "aria-labelledby": "task-run-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "task-run-title" }, "Run a task"),
      h("div", { class: "inline-form" }, h("label", { for: "task-example" }, "Example"), example),
    ),
    h("label", { for: "task-program" }, "Program (JavaScript, run in a sandbox: no network, no storage)"),
    program,
    h(
      "div",
      { class: "row" },
      h("div", {}, h("label", { for: "task-function" }, "Function"), fnInput),
      h("div", {}, h("label", { for: "task-timeout" }, "Timeout (ms)"), timeout),
      h("div", { class: "checkbox" }, useCache, h("label", { for: "task-cache" }, "Use the result cache")),
    ),
    h("label", { for: "task-args" }, "Arguments (a JSON array)"),
    argsInput,
    argsCheck,
    h("div", { class: "actions" }, run),
    result,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void runTask();
  });

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "tasks-title" },
    h("div", { class: "view-head" }, h("h1", { id: "tasks-title" }, "Tasks")),
    h("section", { class: "card" }, form),
    h(
      "section",
      { class: "card", "aria-labelledby": "history-title" },
      h(
        "div",
        { class: "card-head" },
        h("h2", { id: "history-title" }, "History"),
        h(
          "div",
          { class: "inline-form" },
          h("label", { for: "history-status" }, "Status"),
          status,
          h("button", { type: "button", onclick: () => void loadHistory([]) }, "Refresh"),
          h("button", { type: "button", class: "danger", onclick: () => void clearHistory() }, "Clear history"),
        ),
      ),
      h(
        "table",
        { class: "table stack compact history" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "When"),
            h("th", { scope: "col" }, "Function"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col", class: "num" }, "Time"),
            h("th", { scope: "col" }, "Result or error"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Details")),
          ),
        ),
        rows,
      ),
      h("div", { class: "pager" }, newer, pageLabel, older),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "cache-title" },
      h(
        "div",
        { class: "card-head" },
        h("h2", { id: "cache-title" }, "Result cache"),
        h("button", { type: "button", class: "danger", onclick: () => void clearCache() }, "Clear cache"),
      ),
      cacheLine,
    ),
  );

  function checkArgs(): boolean {
    const parsed = parseJson(argsInput.value.trim() || "[]");
    const ok = parsed.ok && Array.isArray(parsed.value);
    argsInput.setAttribute("aria-invalid", String(!ok));
    argsCheck.className = ok ? "check ok" : "check bad";
    argsCheck.textContent = ok
      ? "Valid JSON array."
      : parsed.ok
        ? "The arguments must be a JSON array, e.g. [1, 2]."
        : `Not JSON: ${parsed.error}`;
    run.disabled = !ok;
    return ok;
  }

  async function runTask(): Promise<void> {
    if (!checkArgs()) return;
    const args = parseJson(argsInput.value.trim() || "[]");
    if (!args.ok || !Array.isArray(args.value)) return;
    run.disabled = true;
    mount(result, h("p", { class: "hint" }, "Running…"));
    try {
      const outcome = await ctx.client.runTask({
        program: program.value,
        function: fnInput.value.trim() || "main",
        args: args.value,
        timeoutMs: timeout.value ? Number(timeout.value) : undefined,
        cache: useCache.checked,
      });
      showResult(outcome);
      await Promise.all([loadHistory([]), loadCache()]);
    } catch (err) {
      mount(result);
      ctx.fail(err, "The peer did not run the task");
    } finally {
      run.disabled = false;
    }
  }

  function showResult(outcome: TaskResult): void {
    const ok = outcome.status === "succeeded";
    mount(
      result,
      h(
        "div",
        { class: `outcome ${outcome.status}`, "data-status": outcome.status, "data-task-id": outcome.id },
        h(
          "p",
          { class: "outcome-head" },
          h("span", { class: `badge ${ok ? "ok" : "bad"}` }, outcome.status),
          ` ${outcome.durationMs} ms on ${outcome.peer}`,
          outcome.cached ? " · from the cache" : "",
          h("code", { class: "hint" }, ` · ${outcome.id}`),
        ),
        ok
          ? h("pre", { class: "mono", "data-testid": "task-value" }, formatJson(outcome.result))
          : h("pre", { class: "mono error-text", "data-testid": "task-error" }, outcome.error ?? "failed"),
      ),
    );
  }

  /** `cursors` holds the cursor of every page before this one; [] is the newest page. */
  let cursors: (string | undefined)[] = [];
  let nextCursor: string | null = null;

  async function loadHistory(at: (string | undefined)[]): Promise<void> {
    try {
      const page = await ctx.client.listTasks({
        limit: HISTORY_PAGE,
        cursor: at[at.length - 1],
        status: (status.value || undefined) as "succeeded" | "failed" | undefined,
      });
      cursors = at;
      nextCursor = page.cursor;
      mount(
        rows,
        page.tasks.length
          ? page.tasks.map(historyRow)
          : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No tasks in the history yet.")),
      );
      newer.disabled = cursors.length === 0;
      older.disabled = !nextCursor;
      pageLabel.textContent = `page ${cursors.length + 1}`;
    } catch (err) {
      ctx.fail(err, "Could not read the task history");
    }
  }

  const pageOn = () => (nextCursor ? loadHistory([...cursors, nextCursor]) : Promise.resolve());
  const pageBack = () => loadHistory(cursors.slice(0, -1));

  function historyRow(task: TaskSummary): HTMLTableRowElement {
    const ok = task.status === "succeeded";
    // A summary's result is already JSON text, cut to 200 characters.
    const detail = (ok ? task.result : task.error) ?? "";
    return h(
      "tr",
      { "data-task-id": task.id, "data-status": task.status },
      h("td", { "data-label": "When" }, formatDate(task.createdAt)),
      h("td", { "data-label": "Function" }, h("code", {}, task.function)),
      h(
        "td",
        { "data-label": "Status" },
        h("span", { class: `badge ${ok ? "ok" : "bad"}` }, task.status),
        task.cached ? h("span", { class: "badge" }, "cached") : null,
      ),
      h("td", { class: "num", "data-label": "Time" }, `${task.durationMs} ms`),
      h("td", { class: "wide", "data-label": ok ? "Result" : "Error" }, h("code", { class: ok ? "" : "error-text" }, detail)),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", "aria-label": `Details of task ${task.id}`, onclick: () => void details(task.id) }, "Details"),
      ),
    );
  }

  /** The whole record (the list cuts results to 200 characters). */
  async function details(id: string): Promise<void> {
    try {
      const record = await ctx.client.getTask(id);
      void openDialog({ title: `Task ${id}`, body: h("pre", { class: "mono record", "data-testid": "task-record" }, formatJson(record)) });
    } catch (err) {
      ctx.fail(err, `Could not read task ${id}`);
    }
  }

  async function loadCache(): Promise<void> {
    try {
      const info = await ctx.client.cacheInfo();
      cacheLine.textContent = `${info.entries} cached result${info.entries === 1 ? "" : "s"}; each is kept for ${info.ttlSeconds} s.`;
    } catch (err) {
      ctx.fail(err, "Could not read the result cache");
    }
  }

  async function clearCache(): Promise<void> {
    if (
      !(await confirmDanger(
        "Clear the result cache?",
        "Every cached task result of this peer will be dropped; the next runs compute again.",
        "Clear cache",
      ))
    )
      return;
    try {
      await ctx.client.clearCache();
      showInfo("The result cache is empty.");
    } catch (err) {
      ctx.fail(err, "Could not clear the cache");
    }
    await loadCache();
  }

  async function clearHistory(): Promise<void> {
    if (!(await confirmDanger("Clear the task history?", `Every task record of ${ctx.peerName} will be deleted.`, "Clear history"))) return;
    try {
      await ctx.client.clearHistory();
      showInfo("The task history is empty.");
    } catch (err) {
      ctx.fail(err, "Could not clear the history");
    }
    await loadHistory([]);
  }

  checkArgs();
  void loadHistory([]);
  void loadCache();
  return { element };
}
