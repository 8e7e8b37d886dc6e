import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ResultCache, taskHash } from "../../src/storage/cache";
import { cacheKey } from "../../src/storage/keys";
import { canonicalJson } from "../../src/tasks/canonical";
import { taskLimits } from "../../src/tasks/limits";
import { runTask } from "../../src/tasks/sandbox";
import type { TaskAnswer as Answer } from "../../src/tasks/execute";
import { call, errorOf } from "../support/http";

const FIB = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } function main(n) { return fib(n); }";

const post = (body: unknown) => call("/api/tasks", { method: "POST", body: JSON.stringify(body) });

async function run(body: Record<string, unknown>): Promise<Answer> {
  const res = await post(body);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

/** A body as a stream, so that it is sent without Content-Length. */
const streamOf = (text: string) => new Blob([text]).stream();

/** Runs `program`'s `main` with `args`, bypassing the cache. */
const runFresh = (program: string, args: unknown[] = []) => run({ program, args, cache: false });

describe("running a task", () => {
  it("runs fib and answers the contract's shape", async () => {
    const res = await post({ program: FIB, function: "main", args: [20] });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const body = (await res.json()) as Answer;
    expect(body).toEqual({
      id: expect.stringMatching(/^\d{17}-[0-9a-f]{8}$/),
      status: "succeeded",
      result: 6765,
      cached: false,
      durationMs: expect.any(Number),
      peer: "local",
    });
  });

  it.each([
    ["a factorial", "function main(n) { let f = 1; for (let i = 2; i <= n; i++) f *= i; return f; }", [10], 3628800],
    ["a const arrow function", "const main = (a, b) => ({ sum: a + b, list: [a, b] });", [2, 3], { sum: 5, list: [2, 3] }],
    ["string work", "function main(s) { return s.split('').reverse().join(''); }", ["héllo"], "olléh"],
    [
      "JSON arguments of every kind",
      "function main(...a) { return a; }",
      [null, true, 1.5, "x", [1], { k: { v: [] } }],
      [null, true, 1.5, "x", [1], { k: { v: [] } }],
    ],
    ["an async function", "async function main(n) { await null; return (await Promise.all([n, n * 2])); }", [4], [4, 8]],
    ["null", "function main() { return null; }", [], null],
  ])("runs %s", async (_what, program, args, expected) => {
    const body = await runFresh(program, args);
    expect(body.status).toBe("succeeded");
    expect(body.result).toEqual(expected);
  });

  it("calls the function named by `function`", async () => {
    const body = await run({ program: "function double(x) { return 2 * x; }", function: "double", args: [21] });
    expect(body.result).toBe(42);
  });

  it("fails a program that throws, with its message", async () => {
    const body = await runFresh("function main() { throw new TypeError('the input is wrong'); }");
    expect(body.status).toBe("failed");
    expect(body.error).toBe("TypeError: the input is wrong");
    expect(body.result).toBeUndefined();
  });

  it("fails a program that throws a non-Error value", async () => {
    const body = await runFresh("function main() { throw 'plain string'; }");
    expect(body).toMatchObject({ status: "failed", error: "Uncaught plain string" });
  });

  it("fails a rejected promise with its message", async () => {
    const body = await runFresh("async function main() { await null; throw new Error('later'); }");
    expect(body).toMatchObject({ status: "failed", error: "Error: later" });
  });

  it("fails a promise that can never settle", async () => {
    const body = await runFresh("function main() { return new Promise(() => {}); }");
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/never settled/);
  });

  it("fails a syntax error when loading the program", async () => {
    const body = await runFresh("function main( {");
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/^The program failed to load: SyntaxError/);
  });

  it("fails a program without the named function", async () => {
    const body = await runFresh("const x = 1;");
    expect(body).toMatchObject({ status: "failed", error: 'The program defines no function "main".' });
    const notAFunction = await runFresh("var main = 42;");
    expect(notAFunction.error).toBe('The program defines no function "main".');
  });
});

describe("results that are not JSON", () => {
  it.each([
    ["undefined", "function main() {}", "the result is undefined"],
    ["a function", "function main() { return () => 1; }", "the result is a function"],
    ["NaN", "function main() { return 0 / 0; }", "the result is NaN"],
    ["Infinity inside an array", "function main() { return [1, 1 / 0]; }", "the result[1] is Infinity"],
    ["undefined inside an object", "function main() { return { a: { b: undefined } }; }", "the result.a.b is undefined"],
    ["a Map", "function main() { return new Map([[1, 2]]); }", "the result is a Map"],
    ["a Date", "function main() { return new Date(0); }", "the result is a Date"],
    ["a cycle", "function main() { const o = {}; o.self = o; return o; }", "the result.self refers back to itself"],
    ["a BigInt", "function main() { return 10n; }", "the result is a bigint"],
    ["a symbol", "function main() { return Symbol('s'); }", "the result is a symbol"],
  ])("fails %s with a clear error", async (_what, program, detail) => {
    const body = await runFresh(program);
    expect(body.status).toBe("failed");
    expect(body.error).toBe(`The result is not JSON: ${detail}.`);
  });

  it.each([
    ["undefined on its second read", "let n = 0; function main() { return { get a() { return n++ ? undefined : 1; } }; }", { a: 1 }],
    [
      "another array element on its second read",
      "let n = 0; function main() { return Object.defineProperty([0], 0, { get() { return n++ ? 0 / 0 : 2; } }); }",
      [2],
    ],
    [
      "another key set on its second listing",
      "let n = 0; function main() { return new Proxy({ a: 1 }, { ownKeys() { return n++ ? ['b'] : ['a']; } }); }",
      { a: 1 },
    ],
  ])("reads a result once: a getter answering %s is judged by its first answer", async (_what, program, expected) => {
    expect(await runFresh(program)).toMatchObject({ status: "succeeded", result: expected });
  });

  it("ignores a toJSON the program adds to Object.prototype", async () => {
    const body = await runFresh("Object.prototype.toJSON = function () { return 'forged'; }; function main() { return { ok: [1] }; }");
    expect(body).toMatchObject({ status: "succeeded", result: { ok: [1] } });
  });

  it("fails a result over TASK_RESULT_BYTES", async () => {
    const body = await runFresh("function main() { return 'x'.repeat(300000); }");
    expect(body.status).toBe("failed");
    expect(body.error).toBe("The result is 300002 bytes of JSON; the limit is 262144 (TASK_RESULT_BYTES).");
  });
});

describe("the sandbox", () => {
  it.each([
    ["fetch", "typeof fetch"],
    ["require", "typeof require"],
    ["process", "typeof process"],
    ["the env", "typeof env + typeof globalThis.KV + typeof globalThis.PEER_TOKEN"],
    ["timers", "typeof setTimeout + typeof setInterval + typeof queueMicrotask"],
    ["the console", "typeof console"],
    ["WebAssembly", "typeof WebAssembly"],
    ["caches and crypto", "typeof caches + typeof crypto"],
  ])("gives the program no %s", async (_what, expression) => {
    const body = await runFresh(`function main() { return ${expression}; }`);
    expect(body.status).toBe("succeeded");
    expect(String(body.result)).toMatch(/^(undefined)+$/);
  });

  it("fails a call to fetch", async () => {
    const body = await runFresh("async function main() { return await fetch('https://example.com'); }");
    expect(body).toMatchObject({ status: "failed", error: "ReferenceError: 'fetch' is not defined" });
  });

  it("fails a call to require or process", async () => {
    expect((await runFresh("function main() { return require('fs'); }")).error).toBe("ReferenceError: 'require' is not defined");
    expect((await runFresh("function main() { return process.env; }")).error).toBe("ReferenceError: 'process' is not defined");
  });

  it("keeps the prototype chain inside the sandbox", async () => {
    const escapes = [
      "this.constructor.constructor('return typeof process')()",
      "({}).constructor.constructor('return typeof fetch + typeof require')()",
      "Object.getPrototypeOf(async function () {}).constructor('return 1').constructor('return typeof globalThis.KV')()",
      "(() => { try { null.x } catch (e) { return e.constructor.constructor('return typeof process')() } })()",
    ];
    for (const expression of escapes) {
      const body = await runFresh(`function main() { return ${expression}; }`);
      expect(body.status, expression).toBe("succeeded");
      expect(String(body.result), expression).toMatch(/^(undefined)+$/);
    }
  });

  it("shows the program only the language's own globals", async () => {
    const body = await runFresh("function main() { return Object.getOwnPropertyNames(globalThis).filter((n) => n !== 'main'); }");
    const names = body.result as string[];
    expect(names).toContain("Math");
    expect(names).toContain("JSON");
    for (const hostOnly of ["fetch", "Request", "Response", "crypto", "caches", "navigator", "console", "WebAssembly", "setTimeout"]) {
      expect(names).not.toContain(hostOnly);
    }
  });

  it("gives each task a fresh context", async () => {
    await runFresh("globalThis.leak = 'secret'; Object.prototype.polluted = 1; function main() { return 1; }");
    const body = await runFresh("function main() { return [typeof leak, typeof ({}).polluted]; }");
    expect(body.result).toEqual(["undefined", "undefined"]);
  });

  it("cannot tamper with how its result is checked", async () => {
    const body = await runFresh("JSON.stringify = () => 'not json'; function main() { return { ok: true }; }");
    expect(body).toMatchObject({ status: "succeeded", result: { ok: true } });
  });
});

describe("limits", () => {
  it("stops an endless loop within the CPU budget and keeps answering", async () => {
    const started = Date.now();
    const [loop, health] = await Promise.all([runFresh("function main() { for (;;) {} }"), call("/api/health", { token: null })]);
    expect(health.status).toBe(200);
    expect(loop.status).toBe("failed");
    expect(loop.error).toMatch(/^The task ran past its CPU budget of 10000 interrupt checks/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The same isolate runs the next task at once.
    expect((await runFresh(FIB, [15])).result).toBe(610);
  });

  it("stops a loop hidden in a getter of a thrown value", async () => {
    const body = await runFresh("function main() { throw { get message() { for (;;) {} } }; }");
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/CPU budget|cannot be described/);
  });

  it("charges promise jobs to the CPU budget: a loop of awaits is stopped like a loop of branches", async () => {
    // 100,000 awaits are ~600,000 polls, well inside 150 checks (1.5 M polls), but as much
    // work as ~5 M polls of a plain loop: counted by jobs, they spend the budget.
    const program = "async function main() { for (let i = 0; i < 100000; i++) await null; return 'done'; }";
    const body = await run({ program, timeoutMs: 10, cache: false });
    expect(body).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/^The task ran past its CPU budget of 150 interrupt checks/),
    });
  });

  it("stops a loop of slow built-in calls at TASK_TIME_MS, where the clock moves", async () => {
    // Each indexOf over 4 MiB is one poll of the interpreter and milliseconds of native work:
    // invisible to the budget, seen by the clock (checked every 100 polls, not QuickJS's 10,000).
    const program = "function main() { const s = 'x'.repeat(4 << 20); for (let i = 0; i < 5000; i++) s.indexOf('y'); return 1; }";
    const limits = { ...taskLimits(env), timeMs: 300 };
    const outcome = await runTask({ program, function: "main", argsJson: "[]" }, limits);
    expect(outcome).toEqual({ status: "failed", error: "The task ran past its time limit of 300 ms (TASK_TIME_MS) and was stopped." });
  });

  it("stops a loop of awaits at TASK_TIME_MS too", async () => {
    const program = "async function main() { for (;;) await null; }";
    const limits = { ...taskLimits(env), timeMs: 300 };
    const outcome = await runTask({ program, function: "main", argsJson: "[]" }, limits);
    expect(outcome).toEqual({ status: "failed", error: "The task ran past its time limit of 300 ms (TASK_TIME_MS) and was stopped." });
  });

  it("defaults TASK_TIME_MS to 500", () => {
    expect(taskLimits({ ...env, TASK_TIME_MS: undefined }).timeMs).toBe(500);
  });

  it("shrinks the CPU budget with timeoutMs", async () => {
    const body = await run({ program: "function main() { while (true) {} }", timeoutMs: 20, cache: false });
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/^The task ran past its CPU budget of 300 interrupt checks/);
  });

  it("fails a memory bomb at TASK_MEMORY_MB and keeps answering", async () => {
    const started = Date.now();
    const body = await runFresh("function main() { const a = []; for (let i = 0; ; i++) a.push({ i, s: 'x' + i }); }");
    expect(body).toMatchObject({ status: "failed", error: "The task ran out of memory: its limit is 32 MiB (TASK_MEMORY_MB)." });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await call("/api/health", { token: null })).status).toBe(200);
    expect((await runFresh(FIB, [10])).result).toBe(55);
  });

  it("fails one huge allocation", async () => {
    const body = await runFresh("function main() { return new ArrayBuffer(256 * 1024 * 1024).byteLength; }");
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/out of memory/);
  });

  it("fails deep recursion at TASK_STACK_KB and keeps answering", async () => {
    const body = await runFresh("function f(n) { return f(n + 1) + 1; } function main() { return f(0); }");
    expect(body.status).toBe("failed");
    expect(body.error).toMatch(/^The task overflowed its stack of 256 KiB \(TASK_STACK_KB\)/);
    expect((await runFresh(FIB, [12])).result).toBe(144);
  });

  it("lets a program catch its own stack overflow", async () => {
    const body = await runFresh("function f(n) { try { return f(n + 1); } catch { return n; } } function main() { return f(0) > 100; }");
    expect(body).toMatchObject({ status: "succeeded", result: true });
  });

  it("runs 20 tasks in parallel", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => run({ program: FIB, args: [n] })));
    expect(answers.map((a) => a.result)).toEqual([0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181]);
    expect(new Set(answers.map((a) => a.id)).size).toBe(20);
  });
});

describe("malformed requests", () => {
  it.each([
    ["no program", { function: "main", args: [] }],
    ["an empty program", { program: "" }],
    ["a program that is not a string", { program: 42 }],
    ["args that are not an array", { program: "function main() {}", args: { a: 1 } }],
    ["a function name that is not an identifier", { program: "function main() {}", function: "main(); fetch" }],
    ["a negative timeoutMs", { program: "function main() {}", timeoutMs: -1 }],
    ["a cache flag that is not a boolean", { program: "function main() {}", cache: "no" }],
    ["a body that is not an object", [1, 2]],
    ["a null program", { program: null }],
    ["null args", { program: "function main() {}", args: null }],
    ["a null function", { program: "function main() {}", function: null }],
    ["a fractional timeoutMs", { program: "function main() {}", timeoutMs: 1.5 }],
    ["a timeoutMs over 600000", { program: "function main() {}", timeoutMs: 600_001 }],
    ["a null cache flag", { program: "function main() {}", cache: null }],
    ["a function name of 129 characters", { program: "function main() {}", function: "f".repeat(129) }],
    ["an empty body", ""],
  ])("refuses %s with 400, with the same message however the body arrives", async (_why, body) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const res = await call("/api/tasks", { method: "POST", body: text });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("bad_request");
    // Without Content-Length (streamed), the body takes the general path: same answer.
    const streamed = await call("/api/tasks", { method: "POST", body: streamOf(text), duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(400);
    expect(await errorOf(streamed)).toEqual(error);
  });

  it.each([
    ["arrays", "[".repeat(10_000) + "]".repeat(10_000)],
    ["objects", '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000)],
  ])("refuses args of %s nested 10,000 deep with 400, alone, streamed and in a batch", async (_kind, nested) => {
    const task = `{"program": "function main(a) { return 1; }", "args": [${nested}], "cache": false}`;
    for (const [path, body] of [
      ["/api/tasks", task],
      ["/api/tasks", streamOf(task)],
      ["/api/tasks/batch", `{"tasks": [${task}]}`],
    ] as const) {
      const res = await call(path, { method: "POST", body, duplex: "half" } as RequestInit);
      expect(res.status, path).toBe(400);
      expect(await errorOf(res)).toEqual({ code: "bad_request", message: "args nest deeper than 64 levels." });
    }
  });

  it("runs args nested 64 deep", async () => {
    const nested = JSON.parse("[".repeat(63) + "7" + "]".repeat(63)) as unknown;
    const body = await run({
      program: "function main(a) { let d = 0; while (Array.isArray(a)) { a = a[0]; d++; } return [d, a]; }",
      args: [nested],
    });
    expect(body.result).toEqual([63, 7]);
  });

  it("runs a task whose body arrives without Content-Length", async () => {
    const text = JSON.stringify({ program: FIB, args: [10], cache: false });
    const res = await call("/api/tasks", { method: "POST", body: streamOf(text), duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "succeeded", result: 55 });
  });

  it("ignores unknown keys and keeps only the task in history", async () => {
    const a = await run({ program: FIB, args: [3], extra: { big: true }, cache: false, timeoutMs: 1000 });
    expect(a).toMatchObject({ status: "succeeded", result: 2 });
    const record = (await (await call(`/api/tasks/${a.id}`)).json()) as Record<string, unknown>;
    expect(Object.keys(record).sort()).toEqual([
      "args",
      "cached",
      "createdAt",
      "durationMs",
      "function",
      "id",
      "peer",
      "program",
      "result",
      "status",
    ]);
  });

  it("refuses a body over 1 MiB with 413", async () => {
    const res = await post({ program: `function main() {} // ${"x".repeat(1024 * 1024)}` });
    expect(res.status).toBe(413);
  });

  it("refuses a body that is not JSON with 400", async () => {
    const res = await call("/api/tasks", { method: "POST", body: "{program:" });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({ code: "bad_request", message: "The request body is not valid JSON." });
  });

  it("refuses a task without the token with 401", async () => {
    const res = await call("/api/tasks", { method: "POST", body: JSON.stringify({ program: FIB }), token: null });
    expect(res.status).toBe(401);
  });
});

describe("the result cache", () => {
  beforeEach(async () => {
    expect((await call("/api/cache", { method: "DELETE" })).status).toBe(204);
  });

  it("answers the second identical task from the cache", async () => {
    const first = await run({ program: FIB, args: [24] });
    const second = await run({ program: FIB, args: [24] });
    expect(first).toMatchObject({ status: "succeeded", result: 46368, cached: false });
    expect(second).toMatchObject({ status: "succeeded", result: 46368, cached: true, peer: "local" });
    expect(second.id).not.toBe(first.id);
  });

  it("keys on canonical JSON of the arguments", async () => {
    const program = "function main(o) { return Object.keys(o).length; }";
    await run({ program, args: [{ b: 1, a: { y: 2, x: 3 } }] });
    const again = await run({ program, args: [{ a: { x: 3, y: 2 }, b: 1 }] });
    expect(again.cached).toBe(true);
    const other = await run({ program, args: [{ a: { x: 3, y: 2 }, b: 2 }] });
    expect(other.cached).toBe(false);
  });

  it("keys on the function name", async () => {
    const program = "function one() { return 1; } function two() { return 2; }";
    expect((await run({ program, function: "one" })).result).toBe(1);
    expect(await run({ program, function: "two" })).toMatchObject({ result: 2, cached: false });
  });

  it("does not cache a failed task", async () => {
    const program = "function main() { throw new Error('no'); }";
    await run({ program });
    expect(await run({ program })).toMatchObject({ status: "failed", cached: false });
    expect(await (await call("/api/cache")).json()).toEqual({ entries: 0, ttlSeconds: 3600 });
  });

  it("is bypassed with cache: false", async () => {
    await run({ program: FIB, args: [5], cache: false });
    expect(await (await call("/api/cache")).json()).toMatchObject({ entries: 0 });
    await run({ program: FIB, args: [5] });
    expect((await run({ program: FIB, args: [5], cache: false })).cached).toBe(false);
    expect((await run({ program: FIB, args: [5] })).cached).toBe(true);
  });

  it("hashes an identity the same when remembered and when not", async () => {
    const digest = async (text: string) =>
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))]
        .map((b) => b.toString(16).padStart(2, "0"))
        .join("");
    for (const program of [FIB, `// ${"y".repeat(20_000)}`]) {
      const identity = { program, function: "main", argsJson: "[1]" };
      const expected = await digest(JSON.stringify([program, "main", "[1]"]));
      expect(await taskHash(identity)).toBe(expected);
      expect(await taskHash({ ...identity })).toBe(expected);
      expect(await taskHash({ ...identity, argsJson: "[2]" })).not.toBe(expected);
    }
    // More identities than the memo holds: every one still hashes right.
    for (let i = 0; i < 300; i++)
      expect(await taskHash({ program: FIB, function: "main", argsJson: `[${i}]` })).toBe(
        await digest(JSON.stringify([FIB, "main", `[${i}]`])),
      );
  });

  it("stores entries that KV expires after CACHE_TTL", async () => {
    await run({ program: FIB, args: [6] });
    const listed = await env.KV.list({ prefix: "cache:" });
    expect(listed.keys).toHaveLength(1);
    const expiresIn = listed.keys[0]!.expiration! * 1000 - Date.now();
    expect(expiresIn).toBeGreaterThan(3590_000);
    expect(expiresIn).toBeLessThanOrEqual(3601_000);
  });

  it("stops answering from an entry once its TTL has passed", async () => {
    await run({ program: FIB, args: [7] });
    const hash = await taskHash({ program: FIB, function: "main", argsJson: canonicalJson([7]) });
    const key = cacheKey(hash);
    // Age the real entry: the same value, with the expiry it would have had one hour ago.
    const stored = await env.KV.getWithMetadata<{ expiresAt: number }>(key, "text");
    expect(stored.value).toBe("13");
    await env.KV.put(key, stored.value!, { metadata: { expiresAt: Date.now() - 1 } });
    expect(await (await call("/api/cache")).json()).toMatchObject({ entries: 0 });
    const again = await run({ program: FIB, args: [7] });
    expect(again).toMatchObject({ result: 13, cached: false });
    expect((await run({ program: FIB, args: [7] })).cached).toBe(true);
  });

  it("enforces a TTL shorter than KV's minimum on read", async () => {
    const cache = new ResultCache(env.KV, 2);
    const now = Date.now();
    await cache.put("abc", "[1]", now);
    expect(await cache.get("abc", now + 1000)).toBe("[1]");
    expect(await cache.get("abc", now + 2000)).toBeNull();
    const listed = await env.KV.list({ prefix: "cache:abc" });
    expect(listed.keys[0]!.expiration! * 1000 - now).toBeGreaterThanOrEqual(59_000);
  });

  it("counts and drops entries with GET and DELETE /api/cache", async () => {
    await run({ program: FIB, args: [1] });
    await run({ program: FIB, args: [2] });
    expect(await (await call("/api/cache")).json()).toEqual({ entries: 2, ttlSeconds: 3600 });
    const res = await call("/api/cache", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await (await call("/api/cache")).json()).toEqual({ entries: 0, ttlSeconds: 3600 });
    expect((await run({ program: FIB, args: [1] })).cached).toBe(false);
  });
});
