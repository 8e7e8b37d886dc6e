import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { TaskAnswer as Answer } from "../../src/tasks/execute";
import type { TaskSummary as Summary } from "../../src/storage/history";
import { TaskHistory } from "../../src/storage/history";
import { newTaskId, taskIdTime } from "../../src/tasks/ids";
import { call, errorOf } from "../support/http";

interface Page {
  tasks: Summary[];
  cursor: string | null;
}

const ECHO = "function main(x) { return x; } function boom(m) { throw new Error(m); }";

async function run(body: Record<string, unknown>): Promise<Answer> {
  const res = await call("/api/tasks", { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const echo = (x: unknown, extra: Record<string, unknown> = {}) => run({ program: ECHO, args: [x], ...extra });
const boom = (m: string) => run({ program: ECHO, function: "boom", args: [m] });

async function page(query = ""): Promise<Page> {
  const res = await call(`/api/tasks${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

beforeEach(async () => {
  expect((await call("/api/tasks", { method: "DELETE" })).status).toBe(204);
  expect((await call("/api/cache", { method: "DELETE" })).status).toBe(204);
});

describe("task history", () => {
  it("lists tasks newest first with their summary", async () => {
    const a = await echo(1);
    const b = await boom("bad input");
    const c = await echo({ n: 3 });
    const { tasks, cursor } = await page();
    expect(tasks.map((t) => t.id)).toEqual([c.id, b.id, a.id]);
    expect(cursor).toBeNull();
    expect(tasks[0]).toEqual({
      id: c.id,
      status: "succeeded",
      function: "main",
      durationMs: c.durationMs,
      cached: false,
      createdAt: expect.any(String),
      result: '{"n":3}',
      error: null,
    });
    expect(Date.now() - Date.parse(tasks[0]!.createdAt)).toBeLessThan(60_000);
    expect(tasks[1]).toMatchObject({ status: "failed", function: "boom", result: null, error: "Error: bad input" });
  });

  it("keeps the order of a batch's tasks, newest first", async () => {
    const res = await call("/api/tasks/batch", {
      method: "POST",
      body: JSON.stringify({ tasks: Array.from({ length: 30 }, (_, i) => ({ program: ECHO, args: [i], cache: false })) }),
    });
    const { results } = (await res.json()) as { results: Answer[] };
    const { tasks } = await page();
    expect(tasks.map((t) => t.id)).toEqual(results.map((r) => r.id).reverse());
  });

  it("keeps order among tasks recorded in the same millisecond, newest first", async () => {
    const history = new TaskHistory(env.KV, 3600);
    // 30 ids of one millisecond (locally the clock moves during CPU work, so a run that
    // crosses a millisecond starts again).
    let ids: string[] = [];
    for (let tries = 0; ids.length < 30 && tries < 100_000; tries++) {
      const id = newTaskId();
      if (ids.length > 0 && taskIdTime(id) !== taskIdTime(ids[0]!)) ids = [];
      ids.push(id);
    }
    expect(new Set(ids.map(taskIdTime)).size).toBe(1);
    expect(ids).toHaveLength(30);
    const createdAt = new Date(taskIdTime(ids[0]!)).toISOString();
    for (const [i, id] of ids.entries()) {
      await history.add({
        id,
        status: "succeeded",
        function: "main",
        program: ECHO,
        args: [i],
        result: i,
        cached: false,
        durationMs: 0,
        createdAt,
        peer: "local",
      });
    }
    const { tasks } = await page("?limit=30");
    expect(tasks.map((t) => t.id)).toEqual([...ids].reverse());
  });

  it("cuts result and error to 200 characters in the list, keeps them whole by id", async () => {
    const long = "é".repeat(500);
    const ok = await echo(long);
    const failed = await boom("x".repeat(1000));
    const { tasks } = await page();
    const [f, s] = tasks;
    expect(s!.result).toBe(JSON.stringify(long).slice(0, 200));
    expect(f!.error).toBe(`Error: ${"x".repeat(1000)}`.slice(0, 200));
    const whole = (await (await call(`/api/tasks/${ok.id}`)).json()) as { result: unknown };
    expect(whole.result).toBe(long);
    const wholeError = (await (await call(`/api/tasks/${failed.id}`)).json()) as { error: string };
    expect(wholeError.error).toBe(`Error: ${"x".repeat(1000)}`);
  });

  it("keeps a summary within KV's metadata limit whatever the characters", async () => {
    await echo('\u0001"\\'.repeat(300));
    await echo("😀".repeat(300));
    const { tasks } = await page();
    expect(tasks).toHaveLength(2);
    for (const t of tasks) expect(t.result!.length).toBeGreaterThan(50);
  });

  it("returns the whole record by id", async () => {
    const a = await echo([1, { b: 2 }]);
    const res = await call(`/api/tasks/${a.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: a.id,
      status: "succeeded",
      function: "main",
      program: ECHO,
      args: [[1, { b: 2 }]],
      result: [1, { b: 2 }],
      cached: false,
      durationMs: a.durationMs,
      createdAt: expect.any(String),
      peer: "local",
    });
  });

  it("answers 404 for an unknown or malformed id", async () => {
    for (const id of ["99999999999999999-00000000", "nope", "%E0%A4%A"]) {
      const res = await call(`/api/tasks/${id}`);
      expect(res.status, id).toBe(id.startsWith("%") ? 400 : 404);
    }
  });

  it("filters by status", async () => {
    const a = await echo(1);
    const b = await boom("one");
    const c = await echo(2);
    const d = await boom("two");
    expect((await page("?status=failed")).tasks.map((t) => t.id)).toEqual([d.id, b.id]);
    expect((await page("?status=succeeded")).tasks.map((t) => t.id)).toEqual([c.id, a.id]);
  });

  it("pages with limit and cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.unshift((await echo(i)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p: Page = await page(`?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(p.tasks.length).toBeLessThanOrEqual(3);
      seen.push(...p.tasks.map((t) => t.id));
      cursor = p.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it("pages a filtered view too", async () => {
    const failed: string[] = [];
    for (let i = 0; i < 5; i++) {
      await echo(i);
      failed.unshift((await boom(`e${i}`)).id);
    }
    const first = await page("?status=failed&limit=2");
    expect(first.tasks.map((t) => t.id)).toEqual(failed.slice(0, 2));
    const second = await page(`?status=failed&limit=10&cursor=${encodeURIComponent(first.cursor!)}`);
    expect(second.tasks.map((t) => t.id)).toEqual(failed.slice(2));
    expect(second.cursor).toBeNull();
  });

  it.each([["limit=0"], ["limit=1001"], ["limit=abc"], ["limit=2.5"], ["status=running"]])("refuses ?%s with 400", async (query) => {
    const res = await call(`/api/tasks?${query}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it("never answers 500 for a cursor it did not issue", async () => {
    // Local KV ignores a foreign cursor; the platform's KV throws, which the storage turns into a 400.
    const res = await call("/api/tasks?cursor=not-a-cursor");
    expect([200, 400]).toContain(res.status);
  });

  it("records cache hits with cached: true", async () => {
    await echo("same");
    const hit = await echo("same");
    expect(hit.cached).toBe(true);
    const { tasks } = await page();
    expect(tasks.map((t) => t.cached)).toEqual([true, false]);
  });

  it("keeps records for HISTORY_TTL", async () => {
    const a = await echo(1);
    const listed = await env.KV.list({ prefix: "hist:" });
    expect(listed.keys.map((k) => k.name)).toEqual([`hist:${a.id}`]);
    const expiresIn = listed.keys[0]!.expiration! * 1000 - Date.now();
    expect(expiresIn).toBeGreaterThan(604_790_000);
    expect(expiresIn).toBeLessThanOrEqual(604_801_000);
  });

  it("clears the history with DELETE /api/tasks", async () => {
    const a = await echo(1);
    await boom("x");
    const res = await call("/api/tasks", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect((await page()).tasks).toEqual([]);
    expect((await page("?status=failed")).tasks).toEqual([]);
    expect((await call(`/api/tasks/${a.id}`)).status).toBe(404);
    // The cache is separate: the same task is still a hit.
    expect((await echo(1)).cached).toBe(true);
  });
});

describe("cache hits written together", () => {
  const batch = async (tasks: Record<string, unknown>[]): Promise<Answer[]> => {
    const res = await call("/api/tasks/batch", { method: "POST", body: JSON.stringify({ tasks }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Answer[] }).results;
  };
  /** Every page of a listing, followed to its end. */
  async function all(query: string): Promise<{ ids: string[]; pages: Page[] }> {
    const pages: Page[] = [];
    let cursor: string | null = null;
    do {
      const p: Page = await page(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      pages.push(p);
      cursor = p.cursor;
    } while (cursor && pages.length < 100);
    return { ids: pages.flatMap((p) => p.tasks.map((t) => t.id)), pages };
  }
  /** Runs, failures and hits interleaved; answers oldest first. */
  async function mixed(): Promise<Answer[]> {
    const answers: Answer[] = [await echo("h")];
    answers.push(...(await batch(Array.from({ length: 12 }, () => ({ program: ECHO, args: ["h"] })))));
    answers.push(await boom("one"));
    for (let i = 0; i < 5; i++) answers.push(await echo("h"));
    answers.push(await echo("run", { cache: false }));
    answers.push(...(await batch(Array.from({ length: 7 }, () => ({ program: ECHO, args: ["h"] })))));
    return answers;
  }

  it("writes many quick hits as few KV values, and lists each one exactly", async () => {
    const answers = await batch(Array.from({ length: 40 }, () => ({ program: ECHO, args: ["same"] })));
    expect(answers.filter((a) => a.cached)).toHaveLength(39);
    const { tasks, cursor } = await page();
    expect(cursor).toBeNull();
    expect(tasks.map((t) => t.id)).toEqual(answers.map((a) => a.id).reverse());
    expect(tasks.map((t) => t.cached)).toEqual([...Array(39).fill(true), false]);
    for (const t of tasks) expect(t).toMatchObject({ status: "succeeded", function: "main", result: '"same"', error: null });
    // One run and at most a few batches (a batch never spans two 100 ms windows).
    const keys = (await env.KV.list({ prefix: "hist:" })).keys;
    expect(keys.length).toBeLessThanOrEqual(5);
  });

  it("counts every hit in stats", async () => {
    await batch(Array.from({ length: 25 }, () => ({ program: ECHO, args: [1] })));
    await boom("x");
    for (let i = 0; i < 4; i++) await echo(1);
    const { tasks } = (await (await call("/api/stats")).json()) as { tasks: Record<string, number> };
    expect(tasks).toMatchObject({ total: 30, succeeded: 29, failed: 1, cached: 28 });
  });

  it("pages across batch boundaries, every limit, with and without a status", async () => {
    const answers = await mixed();
    const newestFirst = answers.map((a) => a.id).reverse();
    for (const limit of [1, 2, 3, 5, 7, 11, 50]) {
      const { ids, pages } = await all(`?limit=${limit}`);
      expect(ids, `limit ${limit}`).toEqual(newestFirst);
      for (const p of pages) expect(p.tasks.length).toBeLessThanOrEqual(limit);
      expect(pages.slice(0, -1).every((p) => p.tasks.length === limit)).toBe(true);
      const succeeded = await all(`?status=succeeded&limit=${limit}`);
      expect(succeeded.ids).toEqual(newestFirst.filter((id) => answers.find((a) => a.id === id)!.status === "succeeded"));
      const failed = await all(`?status=failed&limit=${limit}`);
      expect(failed.ids).toEqual(answers.filter((a) => a.status === "failed").map((a) => a.id));
    }
  });

  it("answers each hit by id, whole", async () => {
    const answers = await mixed();
    for (const a of answers) {
      const res = await call(`/api/tasks/${a.id}`);
      expect(res.status, a.id).toBe(200);
      expect(await res.json()).toMatchObject({ id: a.id, status: a.status, cached: a.cached, program: ECHO, durationMs: a.durationMs });
    }
    // An id between two members of a batch that is no task.
    const hits = answers.slice(1, 13);
    const fake = `${hits[5]!.id.slice(0, 17)}-00000000`;
    expect((await call(`/api/tasks/${fake}`)).status).toBe(404);
  });

  it("shows a hit at once in the isolate that answered it, and clears batches with the history", async () => {
    await echo("x");
    for (let i = 0; i < 3; i++) {
      const hit = await echo("x");
      expect((await page("?limit=1")).tasks[0]).toMatchObject({ id: hit.id, cached: true });
    }
    await batch(Array.from({ length: 5 }, () => ({ program: ECHO, args: ["x"] })));
    expect((await call("/api/tasks", { method: "DELETE" })).status).toBe(204);
    expect((await page()).tasks).toEqual([]);
    expect((await env.KV.list({ prefix: "hist:" })).keys).toEqual([]);
  });

  it("refuses a malformed cursor of its own shape with 400", async () => {
    const res = await call("/api/tasks?cursor=~5000~1~");
    expect(res.status).toBe(400);
  });
});

describe("batch", () => {
  const batch = (body: unknown) => call("/api/tasks/batch", { method: "POST", body: JSON.stringify(body) });

  it("runs tasks in order, each answered like a single task", async () => {
    const res = await batch({
      tasks: [
        { program: ECHO, args: ["a"] },
        { program: ECHO, function: "boom", args: ["b"] },
        { program: "function main() { for (;;) {} }", timeoutMs: 10 },
        { program: ECHO, args: ["a"] },
      ],
    });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Answer[] };
    expect(results.map((r) => [r.status, r.result ?? r.error?.slice(0, 40), r.cached, r.peer])).toEqual([
      ["succeeded", "a", false, "local"],
      ["failed", "Error: b", false, "local"],
      ["failed", "The task ran past its CPU budget of 150 ", false, "local"],
      ["succeeded", "a", true, "local"],
    ]);
    expect((await page()).tasks).toHaveLength(4);
  });

  it("accepts 100 tasks", async () => {
    const res = await batch({ tasks: Array.from({ length: 100 }, (_, i) => ({ program: ECHO, args: [i] })) });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Answer[] };
    expect(results.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it.each([
    ["101 tasks", { tasks: Array.from({ length: 101 }, () => ({ program: ECHO })) }],
    ["no tasks array", { program: ECHO }],
    ["a malformed task", { tasks: [{ program: ECHO }, { program: 1 }] }],
  ])("refuses %s with 400 and runs none", async (_why, body) => {
    const res = await batch(body);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    expect((await page()).tasks).toEqual([]);
  });
});

describe("stats", () => {
  it("counts tasks from the history", async () => {
    await echo(1);
    await echo(1);
    await boom("x");
    const res = await call("/api/stats");
    expect(res.status).toBe(200);
    const { tasks, cache } = (await res.json()) as {
      tasks: { total: number; succeeded: number; failed: number; cached: number; avgDurationMs: number };
      cache: { entries: number };
    };
    expect(tasks).toMatchObject({ total: 3, succeeded: 2, failed: 1, cached: 1 });
    expect(tasks.avgDurationMs).toBeGreaterThanOrEqual(0);
    expect(cache.entries).toBe(1);
  });
});

describe("history's bounds", () => {
  /** Total characters of every value under a prefix. */
  async function storedChars(prefix: string): Promise<number> {
    const { keys } = await env.KV.list({ prefix });
    const values = await Promise.all(keys.map((k) => env.KV.get(k.name, "text")));
    return values.reduce((n, v) => n + (v?.length ?? 0), 0);
  }

  it("keeps a long program once, however many tasks ran it, and still shows it by id", async () => {
    const program = `function main(x) { return x; } // ${"p".repeat(200 * 1024)}`;
    const first = await run({ program, args: [1] });
    const hits = await Promise.all(Array.from({ length: 20 }, () => run({ program, args: [1] })));
    expect(hits.every((h) => h.cached)).toBe(true);
    // One copy of the program in all of KV's history, not 21.
    expect((await env.KV.list({ prefix: "prog:" })).keys).toHaveLength(1);
    expect(await storedChars("hist:")).toBeLessThan(program.length / 2);
    for (const id of [first.id, hits[0]!.id, hits[19]!.id]) {
      const record = (await (await call(`/api/tasks/${id}`)).json()) as Record<string, unknown>;
      expect(record.program).toBe(program);
      expect(Object.keys(record)).not.toContain("programSha256");
    }
  });

  it("keeps at most HISTORY_MAX_RECORDS records, the newest", async () => {
    const history = new TaskHistory(env.KV, 3600, { records: 5, bytes: 64 * 1024 * 1024 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = newTaskId();
      ids.push(id);
      await history.add({ ...record(id), cached: i % 2 === 1 });
    }
    const { tasks } = await history.list({ limit: 100 });
    expect(tasks.map((t) => t.id)).toEqual(ids.slice(-5).reverse());
  });

  it("keeps at most HISTORY_MAX_MB of records, the newest", async () => {
    const history = new TaskHistory(env.KV, 3600, { records: 1000, bytes: 40 * 1024 });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = newTaskId();
      ids.push(id);
      await history.add({ ...record(id), result: "r".repeat(10 * 1024) });
    }
    const { tasks } = await history.list({ limit: 100 });
    expect(tasks.length).toBeGreaterThanOrEqual(2);
    expect(tasks.length).toBeLessThanOrEqual(4);
    expect(tasks.map((t) => t.id)).toEqual(ids.slice(-tasks.length).reverse());
    expect(await storedChars("hist:")).toBeLessThanOrEqual(40 * 1024);
  });
});

/** A succeeded record of a tiny task, as history keeps it. */
function record(id: string) {
  return {
    id,
    status: "succeeded" as const,
    function: "main",
    program: ECHO,
    args: [1],
    result: 1 as unknown,
    cached: false,
    durationMs: 1,
    createdAt: new Date(taskIdTime(id)).toISOString(),
    peer: "local",
  };
}
