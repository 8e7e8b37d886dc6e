import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PeerEnv } from "../../src/env";
import { storageUsage } from "../../src/storage/quota";
import { PEER2 } from "../support/peers";
import { call, errorOf, putFile, sha256 } from "../support/http";

const MiB = 1024 * 1024;
const chunk = (n: number, seed: number) => new Uint8Array(n).fill(seed);

async function start(name: string): Promise<string> {
  const res = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name, contentType: "application/x-big" }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { uploadId: string; name: string };
  expect(body.name).toBe(name);
  return body.uploadId;
}

const partPath = (id: string, n: number | string, name: string) =>
  `/api/uploads/${encodeURIComponent(id)}/parts/${n}?name=${encodeURIComponent(name)}`;
const abortPath = (id: string, name: string) => `/api/uploads/${encodeURIComponent(id)}?name=${encodeURIComponent(name)}`;
const donePath = (id: string, name: string) => `/api/uploads/${encodeURIComponent(id)}/complete?name=${encodeURIComponent(name)}`;

async function part(id: string, name: string, n: number, body: Uint8Array) {
  const res = await call(partPath(id, n, name), { method: "PUT", body });
  expect(res.status).toBe(200);
  return (await res.json()) as { part: number; etag: string };
}

describe("multipart uploads", () => {
  it("assembles parts into one file, verifies its SHA-256 and lists it", async () => {
    const name = "big/assembled.bin";
    const id = await start(name);
    const p1 = chunk(5 * MiB, 1);
    const p2 = chunk(1000, 2);
    const parts = [await part(id, name, 1, p1), await part(id, name, 2, p2)];
    expect(parts.map((p) => p.part)).toEqual([1, 2]);
    const whole = new Uint8Array(p1.length + p2.length);
    whole.set(p1);
    whole.set(p2, p1.length);
    const digest = await sha256(whole);
    const res = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts, sha256: digest }) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name, size: whole.length, sha256: digest, contentType: "application/x-big" });
    const got = await call(`/api/files/${name}`);
    expect(got.headers.get("x-content-sha256")).toBe(digest);
    expect(await sha256(new Uint8Array(await got.arrayBuffer()))).toBe(digest);
  });

  it("removes the assembled file and answers checksum_mismatch when sha256 differs", async () => {
    const name = "big/wrong.bin";
    const id = await start(name);
    const parts = [await part(id, name, 1, chunk(100, 3))];
    const res = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts, sha256: "a".repeat(64) }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("checksum_mismatch");
    expect(await env.FILES.head(name)).toBeNull();
  });

  it("aborts with 204 and leaves nothing behind", async () => {
    const name = "big/aborted.bin";
    const id = await start(name);
    await part(id, name, 1, chunk(5 * MiB, 4));
    const res = await call(`/api/uploads/${encodeURIComponent(id)}?name=${encodeURIComponent(name)}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await env.FILES.head(name)).toBeNull();
    const after = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts: [{ part: 1, etag: "x" }] }) });
    expect(after.status).toBe(404);
  });

  it("refuses a small part that is not the last with 400", async () => {
    const name = "big/small.bin";
    const id = await start(name);
    const parts = [await part(id, name, 1, chunk(10, 5)), await part(id, name, 2, chunk(10, 6))];
    const res = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts }) });
    expect(res.status).toBe(400);
    expect(await env.FILES.head(name)).toBeNull();
  });

  it("answers 404 for an unknown upload id", async () => {
    const res = await call(partPath("no-such-upload", 1, "x.bin"), { method: "PUT", body: "abc" });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });

  it.each([
    ["part 0", 0],
    ["part 10001", 10001],
    ["a non-number part", "one"],
  ])("refuses %s with 400", async (_why, n) => {
    const name = "big/bad-part.bin";
    const id = await start(name);
    const res = await call(partPath(id, n, name), { method: "PUT", body: "abc" });
    expect(res.status).toBe(400);
  });

  it("requires ?name= and a valid name", async () => {
    const id = await start("big/named.bin");
    expect((await call(`/api/uploads/${id}/parts/1`, { method: "PUT", body: "x" })).status).toBe(400);
    expect((await call(partPath(id, 1, "../x"), { method: "PUT", body: "x" })).status).toBe(400);
    expect((await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: "/abs" }) })).status).toBe(400);
  });

  it("refuses a part of unknown length with 411", async () => {
    const id = await start("big/chunked.bin");
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(10));
        c.close();
      },
    });
    const res = await call(partPath(id, 1, "big/chunked.bin"), { method: "PUT", body: stream });
    expect(res.status).toBe(411);
  });

  it("refuses a complete call with no parts or a malformed body with 400", async () => {
    const id = await start("big/empty.bin");
    for (const body of ["{}", '{"parts": []}', '{"parts": [{"part": "x"}]}', "not json"]) {
      const res = await call(donePath(id, "big/empty.bin"), { method: "POST", body });
      expect(res.status, body).toBe(400);
    }
  });

  it("keeps the previous version byte for byte when an overwrite fails its sha256", async () => {
    const name = "big/kept.bin";
    const old = chunk(3000, 11);
    expect((await putFile(name, old)).status).toBe(201);
    const before = await call(`/api/files/${name}`, { method: "HEAD" });
    const reservedBefore = (await storageUsage(env as PeerEnv)).reserved;
    const id = await start(name);
    const parts = [await part(id, name, 1, chunk(5 * MiB, 12)), await part(id, name, 2, chunk(100, 13))];
    const res = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts, sha256: "b".repeat(64) }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("checksum_mismatch");
    const got = await call(`/api/files/${name}`);
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(old);
    expect(got.headers.get("etag")).toBe(before.headers.get("etag"));
    expect(got.headers.get("x-content-sha256")).toBe(await sha256(old));
    // Nothing of the refused upload is left: it cannot be completed after all, and its parts
    // no longer count against the storage quota.
    expect((await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts }) })).status).toBe(404);
    expect((await storageUsage(env as PeerEnv)).reserved).toBe(reservedBefore);
  });

  it("refuses with 409 to replace a file by an upload whose sha256 it cannot verify first, and keeps the file", async () => {
    const name = "big/unverifiable.bin";
    expect((await putFile(name, "the old version")).status).toBe(201);
    const id = await start(name);
    // A part sent twice cannot be told from its first copy by its etag: it is read back at complete.
    await part(id, name, 1, chunk(5 * MiB, 14));
    const parts = [await part(id, name, 1, chunk(5 * MiB, 14)), await part(id, name, 2, chunk(10, 15))];
    const whole = new Uint8Array(5 * MiB + 10);
    whole.set(chunk(5 * MiB, 14));
    whole.set(chunk(10, 15), 5 * MiB);
    const digest = await sha256(whole);
    const res = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts, sha256: digest }) });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("conflict");
    expect(await (await call(`/api/files/${name}`)).text()).toBe("the old version");
    // The upload is still open: completed without sha256, the answer gives the digest to compare.
    const done = await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts }) });
    expect(done.status).toBe(201);
    expect(((await done.json()) as { sha256: string }).sha256).toBe(digest);
  });

  it("answers 404 to part, complete and abort with a wrong name, a garbage id or another peer's id", async () => {
    const name = "big/mine.bin";
    const id = await start(name);
    const parts = [await part(id, name, 1, chunk(10, 16))];
    const created = await (env as unknown as { PEER2: Fetcher }).PEER2.fetch(`${PEER2.url}/api/uploads`, {
      method: "POST",
      headers: { authorization: `Bearer ${PEER2.token}` },
      body: JSON.stringify({ name }),
    });
    const theirs = ((await created.json()) as { uploadId: string }).uploadId;
    const cases: [string, string][] = [
      [id, "big/other.bin"],
      ["garbage", name],
      [`${id.slice(0, -1)}x`, name],
      [theirs, name],
    ];
    for (const [badId, badName] of cases) {
      const what = `${badId.slice(0, 12)}… ${badName}`;
      const complete = await call(donePath(badId, badName), { method: "POST", body: JSON.stringify({ parts }) });
      expect(complete.status, what).toBe(404);
      expect((await errorOf(complete)).code).toBe("not_found");
      const abort = await call(abortPath(badId, badName), { method: "DELETE" });
      expect(abort.status, what).toBe(404);
      expect((await errorOf(abort)).code).toBe("not_found");
      expect((await call(partPath(badId, 2, badName), { method: "PUT", body: "x" })).status, what).toBe(404);
    }
    // The real upload was not disturbed.
    expect((await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts }) })).status).toBe(201);
  });

  it("answers 204 to every abort of an upload, also once it is aborted or completed", async () => {
    const name = "big/twice.bin";
    const id = await start(name);
    const parts = [await part(id, name, 1, chunk(10, 17))];
    expect((await call(abortPath(id, name), { method: "DELETE" })).status).toBe(204);
    expect((await call(abortPath(id, name), { method: "DELETE" })).status).toBe(204);
    expect((await call(donePath(id, name), { method: "POST", body: JSON.stringify({ parts }) })).status).toBe(404);

    const kept = await start(name);
    const keptParts = [await part(kept, name, 1, chunk(10, 18))];
    expect((await call(donePath(kept, name), { method: "POST", body: JSON.stringify({ parts: keptParts }) })).status).toBe(201);
    expect((await call(abortPath(kept, name), { method: "DELETE" })).status).toBe(204);
    expect((await env.FILES.head(name))?.size).toBe(10);
  });
});
