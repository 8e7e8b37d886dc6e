import { createExecutionContext, env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { storageUsage } from "../../src/storage/quota";
import { BASE, errorOf, peer2, storedBytes } from "../support/http";
import { watchedQuota } from "../support/quota";
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

/** A carry window no test outlasts: an answered PUT's commit waits for a call to carry it. */
const NEVER_ALONE = "600000";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A promise with its resolver outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Bodies that send a first chunk, then hold the rest until `gate` opens: every upload whose
 * body started is provably in flight at once. `streaming` counts the bodies that started.
 */
function gatedBodies() {
  const gate = deferred();
  const started = { count: 0 };
  const body = (size: number) => {
    let sent = false;
    return new ReadableStream<Uint8Array>(
      {
        async pull(c) {
          if (!sent) {
            sent = true;
            started.count++;
            c.enqueue(new Uint8Array(64 * KiB).fill(1));
            return;
          }
          await gate.promise;
          c.enqueue(new Uint8Array(size - 64 * KiB).fill(2));
          c.close();
        },
        // Pulled only when the peer reads (a default stream pulls once on creation, read or not).
      },
      { highWaterMark: 0 },
    );
  };
  return { gate, started, body };
}

/**
 * Starts `count` uploads of `size` bytes at once through `send`, each with a gated body; opens
 * the gate once all but `fit` have answered (refused while the others were in flight) — or
 * once more than `fit` are streaming at the same time, which is the overshoot itself.
 */
async function overlapping(count: number, fit: number, size: number, send: (i: number, body: ReadableStream) => Promise<Response>) {
  const { gate, started, body } = gatedBodies();
  let answered = 0;
  let accepted = 0;
  const allAnswered = deferred();
  /** For each refusal, how many uploads had been acknowledged by then (the gate holds them all: 0). */
  const acceptedAtRefusal: number[] = [];
  const responses = Array.from({ length: count }, (_, i) =>
    send(i, body(size)).then((res) => {
      if (res.status === 413) acceptedAtRefusal.push(accepted);
      else accepted++;
      if (++answered === count - fit) allAnswered.resolve();
      return res;
    }),
  );
  const overshoot = (async () => {
    while (started.count <= fit && answered < count) await new Promise((r) => setTimeout(r, 5));
  })();
  await Promise.race([allAnswered.promise, overshoot]);
  gate.resolve();
  const statuses = (await Promise.all(responses)).map((r) => r.status);
  return { statuses, acceptedAtRefusal };
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

  it("reads a replaced file's head once per PUT (the quota's read serves the store)", async () => {
    const heads: string[] = [];
    // The real bucket, with its heads counted.
    const files = new Proxy(env.FILES, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "head") return (key: string) => (heads.push(key), target.head(key));
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const call = peerWith({ PEER_NAME: "quota-heads", FILES: files } as unknown as Record<string, string>);
    expect((await call("/api/files/h.bin", { method: "PUT", body: new Uint8Array(10) })).status).toBe(201);
    heads.length = 0;
    expect((await call("/api/files/h.bin", { method: "PUT", body: new Uint8Array(20) })).status).toBe(201);
    expect(heads).toEqual(["h.bin"]);
    expect((await env.FILES.head("h.bin"))?.size).toBe(20);
  });

  it("carries an answered PUT's commit on the next call from the same isolate, exactly", async () => {
    const calls: string[] = [];
    const quota = watchedQuota((method) => void calls.push(method));
    const vars = { PEER_NAME: "quota-carried", QUOTA: quota, QUOTA_CARRY_MS: NEVER_ALONE };
    const call = peerWith(vars as unknown as Record<string, string>);
    expect((await call("/api/files/c1.bin", { method: "PUT", body: new Uint8Array(100) })).status).toBe(201);
    expect((await call("/api/files/c2.bin", { method: "PUT", body: new Uint8Array(200) })).status).toBe(201);
    // The first commit rode on the second reservation; the second rides on the usage read.
    expect(calls).toEqual(["reserve", "reserve"]);
    const usage = await storageUsage({ ...env, ...vars } as never);
    expect(calls).toEqual(["reserve", "reserve", "usage"]);
    expect(usage).toMatchObject({ used: 300, reserved: 0, reservations: 0, doubt: false });
  });

  it("sends an answered PUT's commit alone when no call comes to carry it", async () => {
    const calls: string[] = [];
    const quota = watchedQuota((method) => void calls.push(method));
    const call = peerWith({ PEER_NAME: "quota-alone", QUOTA: quota, QUOTA_CARRY_MS: "1" } as unknown as Record<string, string>);
    expect((await call("/api/files/c1.bin", { method: "PUT", body: new Uint8Array(100) })).status).toBe(201);
    const counter = env.QUOTA.get(env.QUOTA.idFromName("quota-alone"));
    while ((await counter.usage()).reservations > 0) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual(["reserve", "commit"]);
    expect(await counter.usage()).toMatchObject({ used: 100, reserved: 0, reservations: 0, doubt: false });
  });

  it("lands a carried commit whose carrying call failed: the name is free again and the count exact", async () => {
    let failures = 1;
    const quota = watchedQuota((method, args) => {
      const carries = (args[0] as { commits?: unknown[] } | undefined)?.commits?.length;
      if (method !== "reserve" || !carries || failures === 0) return undefined;
      failures--;
      return new Error("Durable Object is overloaded");
    });
    const vars = { PEER_NAME: "quota-carry-failed", QUOTA: quota, QUOTA_CARRY_MS: NEVER_ALONE };
    const call = peerWith(vars as unknown as Record<string, string>);
    expect((await call("/api/files/a.bin", { method: "PUT", body: new Uint8Array(100) })).status).toBe(201);
    // b.bin's reservation carries a.bin's commit and fails: b.bin is refused, a.bin's commit must not be lost.
    expect((await call("/api/files/b.bin", { method: "PUT", body: new Uint8Array(1) })).status).toBe(500);
    expect(failures).toBe(0);
    // Lost, a.bin's reservation would hold its name for 10 minutes: this PUT would wait that long.
    expect((await call("/api/files/a.bin", { method: "PUT", body: new Uint8Array(5) })).status).toBe(201);
    const usage = await storageUsage({ ...env, ...vars } as never);
    expect(usage).toMatchObject({ used: 5, reserved: 0, reservations: 0, doubt: false });
    expect(await storedBytes()).toBe(5);
  });

  it("applies a commit sent twice once", async () => {
    const counter = env.QUOTA.get(env.QUOTA.idFromName("quota-twice"));
    const reserved = await counter.reserve({ bytes: 100, limit: MiB, ttlMs: 60_000, locks: ["twice"] });
    if (!("id" in reserved)) throw new Error("it must fit");
    await counter.commit(reserved.id, 100);
    // A call that carried it failed after the object applied it: the isolate sends it again.
    await counter.commit(reserved.id, 100);
    expect(await counter.usage([{ id: reserved.id, delta: 100 }])).toMatchObject({ used: 100, reserved: 0, reservations: 0, doubt: false });
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

  it("counts cache hits toward TASKS_PER_HOUR, even after a recount", async () => {
    const call = peerWith({ PEER_NAME: "quota-hits", TASKS_PER_HOUR: "3" });
    const hit = () => call("/api/tasks", { method: "POST", body: JSON.stringify({ program: "function main() { return 'same'; }" }) });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await (await hit()).json()) as { cached: boolean });
    expect(answers.map((a) => a.cached)).toEqual([false, true, true]);
    // Past the limit the peer counts again from storage: the two hits are in that count too.
    const refused = await hit();
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).message).toContain("TASKS_PER_HOUR");
  });

  it("never stores past STORAGE_LIMIT_MB when PUTs overlap", async () => {
    const call = peerWith({ PEER_NAME: "quota-overlap-put", STORAGE_LIMIT_MB: "1" });
    const put = (i: number, body: ReadableStream) =>
      call(`/api/files/o${i}.bin`, {
        method: "PUT",
        body,
        headers: { "content-length": String(300 * KiB) },
        duplex: "half",
      } as RequestInit);
    const run = await overlapping(5, 3, 300 * KiB, put);
    expect(run.statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(run.statuses.filter((s) => s === 413)).toHaveLength(2);
    // The refusals came while the accepted uploads were still streaming: the race happened.
    expect(run.acceptedAtRefusal).toEqual([0, 0]);
    expect(await storedBytes()).toBe(900 * KiB);
  });

  it("reserves multipart parts in flight and held until complete or abort", async () => {
    const call = peerWith({ PEER_NAME: "quota-parts", STORAGE_LIMIT_MB: "1" });
    const start = async (name: string) => {
      const res = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name }) });
      return ((await res.json()) as { uploadId: string }).uploadId;
    };
    const partPath = (id: string, n: number, name: string) => `/api/uploads/${encodeURIComponent(id)}/parts/${n}?name=${name}`;
    const id = await start("parts.bin");
    const part = (i: number, body: ReadableStream) =>
      call(partPath(id, i + 1, "parts.bin"), {
        method: "PUT",
        body,
        headers: { "content-length": String(400 * KiB) },
        duplex: "half",
      } as RequestInit);
    const run = await overlapping(4, 2, 400 * KiB, part);
    expect(run.statuses.sort()).toEqual([200, 200, 413, 413]);
    expect(run.acceptedAtRefusal).toEqual([0, 0]);

    // Stored parts keep their room: a PUT that would fit beside the files alone is refused.
    const put = (name: string, size: number) => call(`/api/files/${name}`, { method: "PUT", body: new Uint8Array(size) });
    expect((await put("beside.bin", 300 * KiB)).status).toBe(413);
    const aborted = await call(`/api/uploads/${encodeURIComponent(id)}?name=parts.bin`, { method: "DELETE" });
    expect(aborted.status).toBe(204);
    expect((await put("beside.bin", 300 * KiB)).status).toBe(201);

    // A completed upload's bytes move from reserved to stored, exactly once.
    const second = await start("done.bin");
    const sent = await call(partPath(second, 1, "done.bin"), { method: "PUT", body: new Uint8Array(600 * KiB) });
    expect(sent.status).toBe(200);
    expect((await put("more.bin", 200 * KiB)).status).toBe(413);
    const done = await call(`/api/uploads/${encodeURIComponent(second)}/complete?name=done.bin`, {
      method: "POST",
      body: JSON.stringify({ parts: [await sent.json()] }),
    });
    expect(done.status).toBe(201);
    expect((await put("more.bin", 200 * KiB)).status).toBe(413);
    expect((await put("more.bin", 100 * KiB)).status).toBe(201);
    expect(await storedBytes()).toBe(1000 * KiB);
  });

  it("frees an upload's parts when its complete is refused for a checksum mismatch", async () => {
    const call = peerWith({ PEER_NAME: "quota-mismatch", STORAGE_LIMIT_MB: "1" });
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: "bad.bin" }) });
    const id = encodeURIComponent(((await created.json()) as { uploadId: string }).uploadId);
    const sent = await call(`/api/uploads/${id}/parts/1?name=bad.bin`, { method: "PUT", body: new Uint8Array(600 * KiB) });
    expect(sent.status).toBe(200);
    const put = () => call("/api/files/after.bin", { method: "PUT", body: new Uint8Array(600 * KiB) });
    expect((await put()).status).toBe(413);
    const done = await call(`/api/uploads/${id}/complete?name=bad.bin`, {
      method: "POST",
      body: JSON.stringify({ parts: [await sent.json()], sha256: "0".repeat(64) }),
    });
    expect((await errorOf(done)).code).toBe("checksum_mismatch");
    expect(await env.FILES.head("bad.bin")).toBeNull();
    expect((await put()).status).toBe(201);
  });

  it("never stores past STORAGE_LIMIT_MB when pulls overlap", async () => {
    const call = peerWith({ PEER_NAME: "quota-pull", STORAGE_LIMIT_MB: "1" });
    expect((await peer2("/api/files/pulled-source.bin", { method: "PUT", body: new Uint8Array(400 * KiB) })).status).toBe(201);
    const link = (await (await peer2("/api/files/pulled-source.bin/share", { method: "POST", body: "{}" })).json()) as { url: string };
    const pull = (i: number) => call(`/api/files/pulled-${i}.bin/pull`, { method: "POST", body: JSON.stringify({ from: link.url }) });
    const statuses = (await Promise.all([0, 1, 2, 3].map(pull))).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(2);
    expect(statuses.filter((s) => s === 413)).toHaveLength(2);
    expect(await storedBytes()).toBe(800 * KiB);
    // Full: one more pull is refused outright and stores nothing.
    const refused = await pull(9);
    expect(refused.status).toBe(413);
    expect(await env.FILES.head("pulled-9.bin")).toBeNull();
  });

  it("forgets an abandoned upload's parts when their reservation expires", async () => {
    const counter = env.QUOTA.get(env.QUOTA.idFromName("quota-expiry"));
    const reserved = await counter.reserve({ bytes: 700 * KiB, limit: MiB, ttlMs: 60_000, group: "abandoned", part: 1 });
    if (!("id" in reserved)) throw new Error("the first reservation must fit");
    // Stored parts live this long after the upload's last part (24 h in the peer; 1 s here).
    await counter.keepPart(reserved.id, 1000);
    expect(await counter.reserve({ bytes: 700 * KiB, limit: MiB, ttlMs: 60_000 })).toHaveProperty("refused");
    for (let i = 0; i < 100 && (await counter.usage()).reserved > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await counter.usage()).toMatchObject({ reserved: 0, reservations: 0, doubt: false });
    expect(await counter.reserve({ bytes: 700 * KiB, limit: MiB, ttlMs: 60_000 })).toHaveProperty("id");
  });

  it("recounts R2 when a write's reservation expired unsettled, at the first moment nothing is in flight", async () => {
    const counter = env.QUOTA.get(env.QUOTA.idFromName("quota-recount"));
    expect(await counter.usage()).toMatchObject({ used: 0, doubt: false });
    // A writer reserves, stores its bytes, and dies before it commits.
    const reserved = await counter.reserve({ bytes: 300 * KiB, limit: MiB, ttlMs: 1, locks: ["a-name-digest"] });
    expect(reserved).toHaveProperty("id");
    await env.FILES.put("landed.bin", new Uint8Array(300 * KiB));
    await new Promise((r) => setTimeout(r, 10));
    expect(await counter.usage()).toMatchObject({ used: 0, reserved: 0, doubt: true });
    // While another write is in flight the recount waits (it would count that write twice).
    const inFlight = await counter.reserve({ bytes: 100 * KiB, limit: MiB, ttlMs: 60_000 });
    if (!("id" in inFlight)) throw new Error("it must fit");
    expect(await runDurableObjectAlarm(counter)).toBe(true);
    expect(await counter.usage()).toMatchObject({ used: 0, doubt: true });
    await counter.release(inFlight.id);
    expect(await runDurableObjectAlarm(counter)).toBe(true);
    expect(await counter.usage()).toMatchObject({ used: 300 * KiB, reserved: 0, doubt: false });
  });
});
