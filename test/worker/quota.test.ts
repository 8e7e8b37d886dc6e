import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BASE, errorOf } from "../support/http";
import { TEST_TOKEN } from "../support/peers";

/** Calls the worker with extra vars; each test names its own peer so quota tallies never mix. */
function peerWith(vars: Record<string, string>) {
  const bound = { ...env, ...vars };
  return (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${TEST_TOKEN}`);
    // A Request built in-process has no Content-Length header; one from the network does.
    if (init.body instanceof Uint8Array) headers.set("content-length", String(init.body.byteLength));
    const request = new Request(`${BASE}${path}`, { ...init, headers }) as Request<unknown, IncomingRequestCfProperties>;
    return worker.fetch(request, bound, createExecutionContext());
  };
}

describe("quotas", () => {
  // Storage is isolated per test file, not per test: start each test from an empty peer.
  beforeEach(async () => {
    const objects = (await env.FILES.list()).objects.map((o) => o.key);
    if (objects.length) await env.FILES.delete(objects);
    for (const k of (await env.KV.list()).keys) await env.KV.delete(k.name);
  });

  it("refuses an upload past STORAGE_LIMIT_MB with 413 and stores nothing", async () => {
    const call = peerWith({ PEER_NAME: "quota-storage", STORAGE_LIMIT_MB: "1" });
    const half = new Uint8Array(600 * 1024);
    expect((await call("/api/files/a.bin", { method: "PUT", body: half })).status).toBe(201);
    const res = await call("/api/files/b.bin", { method: "PUT", body: half });
    expect(res.status).toBe(413);
    const error = await errorOf(res);
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toContain("STORAGE_LIMIT_MB");
    expect(await env.FILES.head("b.bin")).toBeNull();
  });

  it("sees room freed by a delete at once", async () => {
    const call = peerWith({ PEER_NAME: "quota-freed", STORAGE_LIMIT_MB: "1" });
    const most = new Uint8Array(900 * 1024);
    expect((await call("/api/files/a.bin", { method: "PUT", body: most })).status).toBe(201);
    expect((await call("/api/files/b.bin", { method: "PUT", body: most })).status).toBe(413);
    expect((await call("/api/files/a.bin", { method: "DELETE" })).status).toBe(204);
    expect((await call("/api/files/b.bin", { method: "PUT", body: most })).status).toBe(201);
  });

  it("refuses a new memory key past MEMORY_MAX_KEYS with 413 but lets existing keys change", async () => {
    const call = peerWith({ PEER_NAME: "quota-memory", MEMORY_MAX_KEYS: "3" });
    const put = (k: string, value: unknown) => call(`/api/memory/${k}`, { method: "PUT", body: JSON.stringify({ value }) });
    for (const k of ["a", "b", "c"]) expect((await put(k, 1)).status).toBe(200);
    const res = await put("d", 1);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toContain("MEMORY_MAX_KEYS");
    expect(await env.KV.get("mem:d")).toBeNull();
    expect((await put("a", 2)).status).toBe(200);
    expect((await call("/api/memory/b", { method: "DELETE" })).status).toBe(204);
    expect((await put("d", 1)).status).toBe(200);
  });

  it("refuses tasks past TASKS_PER_HOUR with 429 and Retry-After", async () => {
    const call = peerWith({ PEER_NAME: "quota-tasks", TASKS_PER_HOUR: "3" });
    const run = (n: number, cache = false) =>
      call("/api/tasks", { method: "POST", body: JSON.stringify({ program: `function main() { return ${n}; }`, cache }) });
    for (const n of [1, 2]) expect((await run(n)).status).toBe(200);
    const batch = await call("/api/tasks/batch", {
      method: "POST",
      body: JSON.stringify({ tasks: [{ program: "function main() { return 3; }" }, { program: "function main() { return 4; }" }] }),
    });
    expect(batch.status).toBe(429);
    expect((await errorOf(batch)).code).toBe("too_many_requests");
    expect((await run(3)).status).toBe(200);
    const refused = await run(4);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect((await errorOf(refused)).message).toContain("TASKS_PER_HOUR");
  });
});
