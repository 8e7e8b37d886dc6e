import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FileStore } from "../../src/storage/files";
import { call, putFile, sha256 } from "../support/http";

/**
 * Where the peer keeps the SHA-256 it computed for a file sent without one (docs/storage.md):
 * a KV record per version, under a key of fixed length whatever the name, written before R2
 * commits the object, and gone with the version it belongs to.
 */

const store = () => new FileStore(env.FILES, env.KV);
const shaKeys = async () => (await env.KV.list({ prefix: "fsha:" })).keys.map((k) => k.name);

/** A body that hands over all of `bytes` but does not end until `end()` is called. */
function heldOpen(bytes: Uint8Array): { stream: ReadableStream<Uint8Array>; end: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(bytes);
    },
  });
  return { stream, end: () => controller.close() };
}

describe("the SHA-256 the peer computes", () => {
  it("is recorded before the object exists, so no crash leaves a file without it", async () => {
    const name = "records/before.bin";
    const bytes = new Uint8Array(300_000).fill(7);
    const body = heldOpen(bytes);
    const put = store().put(name, body.stream, { length: bytes.byteLength });
    // Every byte is sent but the body has not ended: the moment R2 shows the object, the
    // record is there already (before, the record waited for the put to finish).
    let object: R2Object | null = null;
    for (let i = 0; i < 500 && !object; i++) {
      await new Promise((r) => setTimeout(r, 10));
      object = await env.FILES.head(name);
    }
    expect(object).not.toBeNull();
    const keys = await shaKeys();
    expect(keys).toEqual([expect.stringMatching(new RegExp(`:${object!.customMetadata!.shaRef}$`))]);
    body.end();
    const meta = await put;
    expect(meta.sha256).toBe(await sha256(bytes));
    expect(await env.KV.get(keys[0]!, "json")).toEqual({ sha256: meta.sha256 });
    await store().delete(name);
  });

  it("keys every record by a digest of the name: 102 bytes for a 1024-byte name", async () => {
    const name = "€".repeat(341) + "a";
    expect((await putFile(name, "long")).status).toBe(201);
    const keys = await shaKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^fsha:[0-9a-f]{64}:[0-9a-f]{32}$/);
    expect((await call(`/api/files/${encodeURIComponent(name)}`, { method: "DELETE" })).status).toBe(204);
    expect(await shaKeys()).toEqual([]);
  });

  it("drops the record of a version once another replaces it, however the new one arrives", async () => {
    const name = "records/replaced.txt";
    expect((await putFile(name, "one")).status).toBe(201);
    expect((await putFile(name, "two")).status).toBe(201);
    expect(await shaKeys()).toHaveLength(1);
    const withSha = await putFile(name, "three", { "x-content-sha256": await sha256("three") });
    expect(withSha.status).toBe(201);
    expect(await shaKeys()).toEqual([]);
    expect((await call(`/api/files/${name}`)).headers.get("x-content-sha256")).toBe(await sha256("three"));
  });

  it("leaves no record behind when the put is refused", async () => {
    const name = "records/refused.txt";
    expect((await putFile(name, "first", { "x-content-sha256": await sha256("first") })).status).toBe(201);
    const files = store();
    await expect(files.put(name, new Response("second").body!, { length: 6, onlyIfAbsent: true })).rejects.toThrow(/already exists/);
    expect(await shaKeys()).toEqual([]);
  });

  it("still reads the record of a file stored before records were per version", async () => {
    const name = "records/legacy.txt";
    const object = await env.FILES.put(name, "old layout");
    const digest = await sha256("old layout");
    await env.KV.put(`sha:${name}`, JSON.stringify({ etag: object!.etag, sha256: digest }));
    expect((await call(`/api/files/${name}`, { method: "HEAD" })).headers.get("x-content-sha256")).toBe(digest);
    const listed = (await (await call("/api/files?prefix=records/legacy")).json()) as { files: { sha256: string }[] };
    expect(listed.files[0]?.sha256).toBe(digest);
    expect((await call(`/api/files/${name}`, { method: "DELETE" })).status).toBe(204);
    expect(await env.KV.get(`sha:${name}`)).toBeNull();
  });
});
