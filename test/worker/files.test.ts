import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, errorOf, putFile, sha256 } from "../support/http";

const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

describe("PUT /api/files/{name}", () => {
  it("stores a file and answers 201 with its meta and SHA-256", async () => {
    const body = bytes(1000);
    const res = await putFile("docs/a.bin", body, { "content-type": "application/x-test" });
    expect(res.status).toBe(201);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ name: "docs/a.bin", size: 1000, sha256: await sha256(body) });
    expect(typeof meta.etag).toBe("string");
    const stored = await env.FILES.get("docs/a.bin");
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(body);
    expect(stored!.httpMetadata?.contentType).toBe("application/x-test");
  });

  it("verifies X-Content-SHA256 and keeps it with the object", async () => {
    const body = bytes(4096);
    const digest = await sha256(body);
    const res = await putFile("checked.bin", body, { "x-content-sha256": digest.toUpperCase() });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { sha256: string }).sha256).toBe(digest);
    const object = await env.FILES.head("checked.bin");
    expect(object?.customMetadata?.sha256).toBe(digest);
  });

  it("refuses a checksum mismatch with 400 and stores nothing", async () => {
    const res = await putFile("bad.bin", bytes(100), { "x-content-sha256": "0".repeat(64) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("checksum_mismatch");
    expect(await env.FILES.head("bad.bin")).toBeNull();
  });

  it("keeps the previous version when a replacement fails its checksum", async () => {
    await putFile("keep.txt", "version one");
    const res = await putFile("keep.txt", "version two", { "x-content-sha256": "f".repeat(64) });
    expect(res.status).toBe(400);
    expect(await (await env.FILES.get("keep.txt"))!.text()).toBe("version one");
  });

  it("refuses a malformed X-Content-SHA256 with 400", async () => {
    const res = await putFile("x.bin", "abc", { "x-content-sha256": "xyz" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it("answers 411 to a body of unknown length and stores nothing", async () => {
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("chunked"));
        c.close();
      },
    });
    const res = await call("/api/files/chunked.txt", { method: "PUT", body: stream });
    expect(res.status).toBe(411);
    expect((await errorOf(res)).code).toBe("length_required");
    expect(await env.FILES.head("chunked.txt")).toBeNull();
  });

  it("stores an empty file", async () => {
    const res = await putFile("empty.txt", "");
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ size: 0, sha256: await sha256("") });
  });

  it("honours If-None-Match: * with 412 when the name exists", async () => {
    expect((await putFile("once.txt", "first", { "if-none-match": "*" })).status).toBe(201);
    const again = await putFile("once.txt", "second", { "if-none-match": "*" });
    expect(again.status).toBe(412);
    expect((await errorOf(again)).code).toBe("precondition_failed");
    expect(await (await env.FILES.get("once.txt"))!.text()).toBe("first");
  });

  it.each([
    ["a leading slash", "%2Fetc"],
    // URL parsing folds literal dot segments, so they can only arrive percent-encoded.
    ["a dot segment", "a%2F.%2Fb"],
    ["a dot-dot segment", "a%2F..%2Fb"],
    ["a backslash", "a%5Cb"],
    ["a control character", "a%01b"],
    ["a name over 1024 bytes", "x".repeat(1025)],
    ["malformed percent-encoding", "%E0%A4%A"],
  ])("refuses a name with %s with 400", async (_why, raw) => {
    const res = await call(`/api/files/${raw}`, { method: "PUT", body: "x" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    const listed = await env.FILES.list();
    expect(listed.objects.map((o) => o.key)).not.toContain(decodeURIComponent(raw.replace(/%E0%A4%A$/, "")));
  });

  it("accepts UTF-8 names with folders up to 1024 bytes", async () => {
    const name = `dossier/ünïcødé/${"é".repeat(200)}.txt`;
    const res = await putFile(name, "hé");
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe(name);
  });
});

describe("GET and HEAD /api/files/{name}", () => {
  it("streams the bytes with the contract's headers", async () => {
    const body = bytes(2048);
    await putFile("get/me.bin", body, { "content-type": "application/x-demo" });
    const res = await call("/api/files/get/me.bin");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("2048");
    expect(res.headers.get("content-type")).toBe("application/x-demo");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);
    expect(res.headers.get("last-modified")).toMatch(/GMT$/);
    expect(res.headers.get("x-content-sha256")).toBe(await sha256(body));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
  });

  it("gives the same headers on HEAD, without a body", async () => {
    await putFile("head.txt", "hello head");
    const get = await call("/api/files/head.txt");
    await get.arrayBuffer();
    const head = await call("/api/files/head.txt", { method: "HEAD" });
    expect(head.status).toBe(200);
    for (const h of ["content-length", "content-type", "etag", "last-modified", "accept-ranges", "x-content-sha256"]) {
      expect(head.headers.get(h), h).toBe(get.headers.get(h));
    }
    expect(await head.text()).toBe("");
  });

  it("answers 404 for a missing file, on GET and HEAD", async () => {
    const res = await call("/api/files/nope.txt");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
    expect((await call("/api/files/nope.txt", { method: "HEAD" })).status).toBe(404);
  });

  it("answers 304 to If-None-Match with the current ETag, 200 to a stale one", async () => {
    await putFile("cached.txt", "v1");
    const etag = (await call("/api/files/cached.txt", { method: "HEAD" })).headers.get("etag")!;
    const fresh = await call("/api/files/cached.txt", { headers: { "if-none-match": etag } });
    expect(fresh.status).toBe(304);
    expect(fresh.headers.get("etag")).toBe(etag);
    const weak = await call("/api/files/cached.txt", { headers: { "if-none-match": `"other", W/${etag}` } });
    expect(weak.status).toBe(304);
    const stale = await call("/api/files/cached.txt", { headers: { "if-none-match": '"stale"' } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe("v1");
  });

  it("keeps the SHA-256 of a file uploaded without one", async () => {
    await putFile("nosha.txt", "computed while streaming");
    const res = await call("/api/files/nosha.txt", { method: "HEAD" });
    expect(res.headers.get("x-content-sha256")).toBe(await sha256("computed while streaming"));
  });

  it("serves files so they cannot run as pages of the peer", async () => {
    await putFile("evil.html", "<script>alert(1)</script>", { "content-type": "text/html" });
    const res = await call("/api/files/evil.html");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    await res.text();
  });

  it("offers a download name with ?download", async () => {
    await putFile("dir/report final.txt", "r");
    const res = await call("/api/files/dir/report%20final.txt?download");
    expect(res.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''report%20final.txt");
    await res.text();
  });
});

describe("Range requests", () => {
  const body = bytes(1000, 3);
  const get = async (range: string, extra: HeadersInit = {}) => {
    await putFile("range.bin", body);
    return call("/api/files/range.bin", { headers: { range, ...extra } });
  };

  it.each([
    ["bytes=0-99", 0, 100],
    ["bytes=100-199", 100, 100],
    ["bytes=990-", 990, 10],
    ["bytes=-10", 990, 10],
    ["bytes=-5000", 0, 1000],
    ["bytes=900-5000", 900, 100],
    ["bytes=999-999", 999, 1],
  ])("%s → 206 with the right bytes", async (range, offset, length) => {
    const res = await get(range);
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes ${offset}-${offset + length - 1}/1000`);
    expect(res.headers.get("content-length")).toBe(String(length));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body.slice(offset, offset + length));
  });

  it.each(["bytes=1000-", "bytes=5000-6000", "bytes=-0"])("%s → 416 with Content-Range */size", async (range) => {
    const res = await get(range);
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */1000");
    expect((await errorOf(res)).code).toBe("range_not_satisfiable");
  });

  it.each(["bytes=5-2", "items=0-5", "bytes=0-1,5-6", "bytes=abc", "bytes=-"])("ignores %s and sends the whole file", async (range) => {
    const res = await get(range);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
  });

  it("ignores Range when If-Range names another version", async () => {
    const res = await get("bytes=0-9", { "if-range": '"old"' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it("answers 416 for any range of an empty file", async () => {
    await putFile("empty-range.bin", "");
    const res = await call("/api/files/empty-range.bin", { headers: { range: "bytes=0-" } });
    expect(res.status).toBe(416);
    await res.text();
  });

  it("gives a range's headers on HEAD", async () => {
    await putFile("range.bin", body);
    const res = await call("/api/files/range.bin", { method: "HEAD", headers: { range: "bytes=10-19" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 10-19/1000");
  });
});

describe("GET /api/files (list)", () => {
  it("lists with size, etag, sha256, type and time, by prefix, with a cursor", async () => {
    for (const n of ["l/a.txt", "l/b.txt", "l/c.txt", "other.txt"]) await putFile(n, n);
    const page1 = (await (await call("/api/files?prefix=l/&limit=2")).json()) as {
      files: Array<Record<string, unknown>>;
      cursor: string | null;
    };
    expect(page1.files.map((f) => f.name)).toEqual(["l/a.txt", "l/b.txt"]);
    expect(page1.files[0]).toMatchObject({ size: 7, sha256: await sha256("l/a.txt"), contentType: "text/plain;charset=UTF-8" });
    expect(Number.isNaN(Date.parse(page1.files[0]!.uploaded as string))).toBe(false);
    expect(page1.cursor).toEqual(expect.any(String));
    const page2 = (await (await call(`/api/files?prefix=l/&limit=2&cursor=${encodeURIComponent(page1.cursor!)}`)).json()) as {
      files: Array<{ name: string }>;
      cursor: string | null;
    };
    expect(page2.files.map((f) => f.name)).toEqual(["l/c.txt"]);
    expect(page2.cursor).toBeNull();
  });

  it("fills a page up to its limit although R2 answers at most 100 objects with their metadata", async () => {
    // Miniflare's R2, like R2 may, lists 100 objects a call when metadata is included.
    const names = Array.from({ length: 250 }, (_, i) => `fill/${String(i).padStart(3, "0")}.txt`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => env.FILES.put(n, n)));
    type Page = { files: Array<{ name: string }>; cursor: string | null };
    const whole = (await (await call("/api/files?prefix=fill/")).json()) as Page;
    expect(whole.files.map((f) => f.name)).toEqual(names);
    expect(whole.cursor).toBeNull();

    const first = (await (await call("/api/files?prefix=fill/&limit=150")).json()) as Page;
    expect(first.files.map((f) => f.name)).toEqual(names.slice(0, 150));
    expect(first.cursor).toEqual(expect.any(String));
    const rest = (await (await call(`/api/files?prefix=fill/&limit=150&cursor=${encodeURIComponent(first.cursor!)}`)).json()) as Page;
    expect(rest.files.map((f) => f.name)).toEqual(names.slice(150));
    expect(rest.cursor).toBeNull();
  });

  it("fills a one-level page with files and folders, each folder once", async () => {
    const names = Array.from({ length: 60 }, (_, i) => `lvl/f${String(i).padStart(2, "0")}.txt`);
    const inner = Array.from({ length: 60 }, (_, i) => `lvl/d${String(i).padStart(2, "0")}/x.txt`);
    await Promise.all([...names, ...inner, "lvl/d00/y.txt", "lvl/d59/y.txt"].map((n) => env.FILES.put(n, n)));
    const page = (await (await call("/api/files?prefix=lvl/&delimiter=/")).json()) as {
      files: Array<{ name: string }>;
      folders: string[];
      cursor: string | null;
    };
    expect(page.files.map((f) => f.name)).toEqual(names);
    expect(page.folders).toEqual(Array.from({ length: 60 }, (_, i) => `lvl/d${String(i).padStart(2, "0")}/`));
    expect(page.cursor).toBeNull();
  });

  it.each(["0", "1001", "abc", "1.5"])("refuses limit=%s with 400", async (limit) => {
    const res = await call(`/api/files?limit=${limit}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });
});

describe("DELETE /api/files/{name}", () => {
  it("deletes a file with 204, then 404", async () => {
    await putFile("gone.txt", "bye");
    const res = await call("/api/files/gone.txt", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await env.FILES.head("gone.txt")).toBeNull();
    const again = await call("/api/files/gone.txt", { method: "DELETE" });
    expect(again.status).toBe(404);
    expect((await errorOf(again)).code).toBe("not_found");
  });

  it("answers 405 with Allow to a method the file route does not take", async () => {
    const res = await call("/api/files/x.txt", { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, PUT, DELETE");
  });
});
