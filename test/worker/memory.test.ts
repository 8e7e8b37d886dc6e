import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PeerEnv } from "../../src/env";
import type { MemoryStore } from "../../src/storage/memory";
import { reserveMemoryKey } from "../../src/storage/quota";
import { call, errorOf } from "../support/http";

const put = (key: string, body: unknown) => call(`/api/memory/${encodeURIComponent(key)}`, { method: "PUT", body: JSON.stringify(body) });

describe("memory", () => {
  it.each([
    ["an object", { a: [1, 2, { b: "c" }] }],
    ["a string", "hello"],
    ["a number", 3.5],
    ["null", null],
    ["false", false],
  ])("stores and returns %s as JSON", async (_what, value) => {
    const res = await put("k", { value });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ key: "k" });
    const got = await call("/api/memory/k");
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ key: "k", value });
  });

  it("keeps keys with slashes, spaces and UTF-8", async () => {
    const key = "users/ünï côdé/42";
    expect((await put(key, { value: 1 })).status).toBe(200);
    expect(await (await call(`/api/memory/${encodeURIComponent(key)}`)).json()).toEqual({ key, value: 1 });
  });

  it("answers 404 for a missing key", async () => {
    const res = await call("/api/memory/absent");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });

  it("lists keys by prefix with their expiry", async () => {
    await put("p/a", { value: 1 });
    await put("p/b", { value: 2, ttl: 3600 });
    await put("q/c", { value: 3 });
    const res = await call("/api/memory?prefix=p/");
    const body = (await res.json()) as { keys: Array<{ key: string; expires: string | null }>; cursor: string | null };
    expect(body.keys.map((k) => k.key)).toEqual(["p/a", "p/b"]);
    expect(body.keys[0]!.expires).toBeNull();
    const expires = Date.parse(body.keys[1]!.expires!);
    expect(expires - Date.now()).toBeGreaterThan(3500_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(body.cursor).toBeNull();
  });

  it("accepts a TTL of ten years, the most there is", async () => {
    const before = Date.now();
    const res = await put("decade", { value: 1, ttl: 315_360_000 });
    const after = Date.now();
    expect(res.status).toBe(200);
    const listed = await env.KV.list({ prefix: "mem:decade" });
    expect(listed.keys[0]!.expiration!).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 315_360_000);
    expect(listed.keys[0]!.expiration!).toBeLessThanOrEqual(Math.ceil(after / 1000) + 315_360_000);
  });

  it("sets a TTL that KV enforces", async () => {
    const before = Date.now();
    await put("short", { value: "x", ttl: 60 });
    const after = Date.now();
    const listed = await env.KV.list({ prefix: "mem:short" });
    // 60 s from the write, to the second: neither sooner (a key that expires at once) nor later.
    expect(listed.keys[0]!.expiration!).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 60);
    expect(listed.keys[0]!.expiration!).toBeLessThanOrEqual(Math.ceil(after / 1000) + 60);
  });

  it("lists by a prefix as long as a key, and refuses a longer one with 400", async () => {
    const key = "k".repeat(480);
    expect((await put(key, { value: 1 })).status).toBe(200);
    const listed = await call(`/api/memory?prefix=${key}`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { keys: { key: string }[] }).keys.map((k) => k.key)).toEqual([key]);
    for (const length of [481, 509, 2000]) {
      const res = await call(`/api/memory?prefix=${"k".repeat(length)}`);
      expect(res.status, String(length)).toBe(400);
      expect((await errorOf(res)).code).toBe("bad_request");
    }
  });

  it.each([
    ["a TTL under 60 seconds", { value: 1, ttl: 59 }],
    ["a fractional TTL", { value: 1, ttl: 61.5 }],
    ["a TTL over ten years", { value: 1, ttl: 315_360_001 }],
    ["a TTL of 2^31 seconds", { value: 1, ttl: 2 ** 31 }],
    ["a TTL of 2^53 seconds", { value: 1, ttl: 2 ** 53 }],
    ["no value", { ttl: 100 }],
    ["not an object", [1, 2]],
  ])("refuses %s with 400", async (_why, body) => {
    const res = await put("bad", body);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    expect(await env.KV.get("mem:bad")).toBeNull();
  });

  it("refuses a body that is not JSON with 400", async () => {
    const res = await call("/api/memory/bad", { method: "PUT", body: "{value: 1" });
    expect(res.status).toBe(400);
  });

  it.each([
    ["a key over 480 bytes", "k".repeat(481)],
    ["a control character", "a\u0007b"],
  ])("refuses %s with 400", async (_why, key) => {
    const res = await put(key, { value: 1 });
    expect(res.status).toBe(400);
  });

  it("accepts a key of exactly 480 bytes", async () => {
    expect((await put("é".repeat(240), { value: 1 })).status).toBe(200);
  });

  it("refuses a value over KV's 25 MiB with 413 and stores nothing", async () => {
    const big = "x".repeat(25 * 1024 * 1024 + 10);
    const res = await put("huge", { value: big });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expect(await env.KV.get("mem:huge")).toBeNull();
  });

  it("deletes with 204, then 404", async () => {
    await put("del", { value: 1 });
    expect((await call("/api/memory/del", { method: "DELETE" })).status).toBe(204);
    expect((await call("/api/memory/del")).status).toBe(404);
    expect((await call("/api/memory/del", { method: "DELETE" })).status).toBe(404);
  });

  it("answers 405 on the list route for PUT", async () => {
    const res = await call("/api/memory", { method: "PUT", body: "{}" });
    expect(res.status).toBe(405);
  });

  it("stores the value's JSON text as it was sent, and answers it spliced in", async () => {
    const sent = '{ "value" : {"a": 1,  "big": 12345678901234567890, "s": "\\u00e9"} }\n';
    const res = await call("/api/memory/as-sent", { method: "PUT", body: sent });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"key":"as-sent"}');
    const stored = '{"a": 1,  "big": 12345678901234567890, "s": "\\u00e9"}';
    expect(await env.KV.get("mem:as-sent")).toBe(stored);
    const got = await call("/api/memory/as-sent");
    expect(await got.text()).toBe(`{"key":"as-sent","value":${stored}}`);
  });

  it.each([
    ["a TTL", '{"value": [1, 2], "ttl": 3600}', [1, 2]],
    ["a second value key (the last wins)", '{"value": 1, "value": 2}', 2],
    ["another key beside the value", '{"value": {"x": 1}, "other": true}', { x: 1 }],
    ["a value that ends in a brace", '{"value": {"x": {}}}', { x: {} }],
  ])("reads a body with %s as JSON", async (_what, body, value) => {
    expect((await call("/api/memory/whole", { method: "PUT", body })).status).toBe(200);
    expect(JSON.parse((await env.KV.get("mem:whole"))!)).toEqual(value);
  });

  it.each([
    ["an extra closing brace", '{"value": 1}}'],
    ["text after the envelope", '{"value": 1} x'],
    ["no value after the colon", '{"value": }'],
    ["a value that is not JSON", '{"value": {a: 1}}'],
    ["a non-JSON space after the envelope", '{"value": 1}\u00a0'],
    ["a TTL under 60 beside the value", '{"value": 1, "ttl": 59}'],
  ])("refuses %s with 400 and stores nothing", async (_why, body) => {
    const res = await call("/api/memory/refused", { method: "PUT", body });
    expect(res.status).toBe(400);
    expect(await env.KV.get("mem:refused")).toBeNull();
  });
});

describe("memory key quota", () => {
  /** A store whose count and existence checks are counted. */
  function countingStore(keys: number) {
    const calls = { count: 0, has: 0 };
    const memory = {
      count: async () => (calls.count++, keys),
      has: async () => (calls.has++, true),
    } as unknown as MemoryStore;
    return { memory, calls };
  }
  const peer = (name: string, max: number) => ({ ...env, PEER_NAME: name, MEMORY_MAX_KEYS: String(max) }) as PeerEnv;

  it("does not count a key written again as a new key", async () => {
    const { memory, calls } = countingStore(1);
    const limited = peer("quota-rewrite", 3);
    // Far more writes of one key than the limit: none is mistaken for a new key, so no
    // existence check and no recount are needed.
    for (let i = 0; i < 20; i++) (await reserveMemoryKey(limited, memory, "same"))();
    expect(calls).toEqual({ count: 1, has: 0 });
    // Room is left for the one more key the limit allows (1 counted + "same" + "other" = 3).
    (await reserveMemoryKey(limited, memory, "other"))();
    expect(calls).toEqual({ count: 1, has: 0 });
  });

  it("counts a key again when its write was never confirmed", async () => {
    const { memory, calls } = countingStore(1);
    const limited = peer("quota-unconfirmed", 3);
    await reserveMemoryKey(limited, memory, "failed");
    await reserveMemoryKey(limited, memory, "failed");
    // 1 + 2 reservations: at the limit, so the next key asks whether it exists.
    await reserveMemoryKey(limited, memory, "failed");
    expect(calls.has).toBe(1);
  });
});
