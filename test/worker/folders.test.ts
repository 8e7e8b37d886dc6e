import { createExecutionContext, env } from "cloudflare:test";
import worker from "../../src/index";
import { describe, expect, it } from "vitest";
import type { PeerEnv } from "../../src/env";
import { HttpError } from "../../src/http/errors";
import { copyFile, copyFolder, moveFile } from "../../src/storage/copy";
import { FileStore } from "../../src/storage/files";
import { FolderStore, NO_QUOTA, type Quota, SEARCH_BUDGET } from "../../src/storage/folders";
import { fileQuota } from "../../src/storage/quota";
import { BASE, call, errorOf, putFile, sha256, storedBytes } from "../support/http";
import { TEST_TOKEN } from "../support/peers";

function bytes(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) % 251;
  return out;
}
const path = (name: string) => name.split("/").map(encodeURIComponent).join("/");
const post = (route: string, body: unknown) =>
  call(route, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const listing = async (query: string) => {
  const res = await call(`/api/files?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as {
    files: { name: string; sha256: string | null }[];
    folders?: string[];
    cursor: string | null;
    scanned?: number;
  };
};
const text = async (name: string) => (await env.FILES.get(name))?.text();
const stores = () => {
  const files = new FileStore(env.FILES, env.KV);
  return { files, folders: new FolderStore(env.FILES, files) };
};

describe("one-level listing and folders", () => {
  it("lists one level with its sub-folders; an empty folder shows as a folder, never as a file", async () => {
    await putFile("lvl/a.txt", "a");
    await putFile("lvl/sub/b.txt", "b");
    expect((await post("/api/folders", { path: "lvl/empty" })).status).toBe(201);
    const page = await listing("prefix=lvl/&delimiter=/");
    expect(page.files.map((f) => f.name)).toEqual(["lvl/a.txt"]);
    expect(page.folders).toEqual(["lvl/empty/", "lvl/sub/"]);
    // Without a delimiter, and in stats, the marker is no file either.
    expect((await listing("prefix=lvl/")).files.map((f) => f.name)).toEqual(["lvl/a.txt", "lvl/sub/b.txt"]);
    expect((await listing("prefix=lvl/empty/")).files).toEqual([]);
    const stats = (await (await call("/api/stats")).json()) as { files: { count: number } };
    const all = await listing("");
    expect(stats.files.count).toBe(all.files.length);
  });

  it("refuses a delimiter other than /", async () => {
    const res = await call("/api/files?delimiter=-");
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it("creates a folder with 201 and its path, idempotently, and with unicode and spaces", async () => {
    const res = await post("/api/folders", { path: "mk/Café Ünï 2025/" });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ path: "mk/Café Ünï 2025/" });
    expect((await post("/api/folders", { path: "mk/Café Ünï 2025" })).status).toBe(201);
    expect((await env.FILES.head("mk/Café Ünï 2025/"))?.size).toBe(0);
    expect((await listing("prefix=mk/&delimiter=/")).folders).toEqual(["mk/Café Ünï 2025/"]);
  });

  it("refuses a folder named like a file (409) and a malformed path (400)", async () => {
    await putFile("clash", "x");
    const clash = await post("/api/folders", { path: "clash" });
    expect(clash.status).toBe(409);
    expect((await errorOf(clash)).code).toBe("conflict");
    for (const bad of ["", "/abs", "a/../b", "back\\slash", "x".repeat(1024)]) {
      const res = await post("/api/folders", { path: bad });
      expect(res.status, bad).toBe(400);
    }
  });

  it("deletes an empty folder with 204, refuses a non-empty one with 409, and 404 for none", async () => {
    await post("/api/folders", { path: "del/empty" });
    const empty = await call("/api/folders/del/empty", { method: "DELETE" });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");
    expect(await env.FILES.head("del/empty/")).toBeNull();

    await putFile("del/full/x.txt", "x");
    const full = await call("/api/folders/del/full", { method: "DELETE" });
    expect(full.status).toBe(409);
    expect((await errorOf(full)).code).toBe("conflict");
    expect(await text("del/full/x.txt")).toBe("x");

    const none = await call("/api/folders/del/none", { method: "DELETE" });
    expect(none.status).toBe(404);
  });

  it("deletes a folder of more than one R2 batch with recursive=true, counting its files", async () => {
    const names = Array.from({ length: 1203 }, (_, i) => `big/f${String(i).padStart(4, "0")}.txt`);
    for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map((n) => env.FILES.put(n, "x")));
    await post("/api/folders", { path: "big/empty sub" });
    await putFile("big-sibling.txt", "kept");
    const res = await call("/api/folders/big?recursive=true", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 1203 });
    expect((await env.FILES.list({ prefix: "big/" })).objects).toEqual([]);
    expect(await text("big-sibling.txt")).toBe("kept");
  }, 60_000);
});

describe("long names", () => {
  it("works on every folder route with paths near 1024 bytes", async () => {
    const folder = `long/${"ü".repeat(496)}`; // 997 bytes
    const other = `lang/${"ö".repeat(496)}`;
    expect(new TextEncoder().encode(`${folder}/x.txt`).length).toBe(1003);
    expect((await post("/api/folders", { path: `${folder}/empty` })).status).toBe(201);
    await putFile(`${folder}/x.txt`, "x");
    expect((await listing(`prefix=${encodeURIComponent(`${folder}/`)}&delimiter=/`)).folders).toEqual([`${folder}/empty/`]);
    expect((await post(`/api/folders/${path(folder)}/copy`, { to: other })).status).toBe(200);
    expect(await text(`${other}/x.txt`)).toBe("x");
    const zip = await call(`/api/zip?prefix=${encodeURIComponent(`${other}/`)}`);
    expect(zip.status).toBe(200);
    await zip.arrayBuffer();
    expect((await post(`/api/files/${path(`${other}/x.txt`)}/move`, { to: `${folder}/y.txt` })).status).toBe(201);
    const gone = await call(`/api/folders/${path(folder)}?recursive=true`, { method: "DELETE" });
    expect(await gone.json()).toEqual({ deleted: 2 });
    // A folder whose marker would pass 1024 bytes is refused, not a storage error.
    expect((await post("/api/folders", { path: `long/${"a".repeat(1019)}` })).status).toBe(400);
  });
});

describe("search", () => {
  it("matches a substring of the whole name case-insensitively, from the prefix, with scanned", async () => {
    for (const n of ["s/Report 2025.PDF", "s/notes.txt", "s/deep/old-report.doc", "other/report.txt"]) await putFile(n, n);
    await post("/api/folders", { path: "s/report-folder" });
    const page = await listing(`prefix=s/&search=${encodeURIComponent("REPORT")}`);
    expect(page.files.map((f) => f.name)).toEqual(["s/Report 2025.PDF", "s/deep/old-report.doc"]);
    expect(page.scanned).toBe(3);
    expect(page.cursor).toBeNull();
    expect(page.files[0]?.sha256).toBe(await sha256("s/Report 2025.PDF"));
  });

  it("pages with a cursor that resumes after the last name read", async () => {
    for (let i = 0; i < 7; i++) await putFile(`pg/match-${i}.txt`, "m");
    await putFile("pg/zzz.txt", "no");
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listing(`prefix=pg/&search=match&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.files.length).toBeLessThanOrEqual(3);
      seen.push(...page.files.map((f) => f.name));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `pg/match-${i}.txt`));
    expect(pages).toBe(3);
  });

  it("stops after its budget of names with a cursor, even with no match yet", async () => {
    const names = Array.from({ length: 1510 }, (_, i) => `budget/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < names.length; i += 500) await Promise.all(names.slice(i, i + 500).map((n) => env.FILES.put(n, "")));
    const { folders } = stores();
    // Two R2 pages (1000 + 500), then a cursor.
    const first = await folders.search("budget/", "nothing-like-this", undefined, 1000, 1500);
    expect(first).toMatchObject({ files: [], scanned: 1500, cursor: "budget/01499" });
    const second = await folders.search("budget/", "nothing-like-this", first.cursor!, 1000, 1500);
    expect(second).toMatchObject({ files: [], scanned: 10, cursor: null });
    expect(SEARCH_BUDGET).toBeGreaterThanOrEqual(1000);
  }, 60_000);

  it("refuses an empty term and a term with a delimiter", async () => {
    expect((await call("/api/files?search=")).status).toBe(400);
    expect((await call("/api/files?search=a&delimiter=/")).status).toBe(400);
  });
});

describe("copy and move of a file", () => {
  it("copies server-side with the SHA-256 and content type kept, 201 with the copy's meta", async () => {
    const body = bytes(300_000);
    await putFile("cp/src file.bin", body, { "content-type": "application/x-test" });
    const res = await post(`/api/files/${path("cp/src file.bin")}/copy`, { to: "cp/Kopie ünï.bin" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      name: "cp/Kopie ünï.bin",
      size: body.length,
      sha256: await sha256(body),
      contentType: "application/x-test",
    });
    const copy = await env.FILES.get("cp/Kopie ünï.bin");
    expect(new Uint8Array(await copy!.arrayBuffer())).toEqual(body);
    expect(copy!.httpMetadata?.contentType).toBe("application/x-test");
    expect(await env.FILES.head("cp/src file.bin")).not.toBeNull();
  });

  it("keeps the SHA-256 of a file that arrived without one (computed while copying)", async () => {
    await env.FILES.put("cp/bare.txt", "no digest stored");
    const res = await post("/api/files/cp/bare.txt/copy", { to: "cp/bare-copy.txt" });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { sha256: string }).sha256).toBe(await sha256("no digest stored"));
  });

  it("answers 412 when the target exists and overwrite is false, and replaces it with overwrite", async () => {
    await putFile("ow/a.txt", "new");
    await putFile("ow/b.txt", "old");
    const refused = await post("/api/files/ow/a.txt/copy", { to: "ow/b.txt" });
    expect(refused.status).toBe(412);
    expect((await errorOf(refused)).code).toBe("precondition_failed");
    expect(await text("ow/b.txt")).toBe("old");
    const replaced = await post("/api/files/ow/a.txt/copy", { to: "ow/b.txt", overwrite: true });
    expect(replaced.status).toBe(201);
    expect(await text("ow/b.txt")).toBe("new");
    // A move with overwrite refused keeps both.
    await putFile("ow/c.txt", "c");
    expect((await post("/api/files/ow/a.txt/move", { to: "ow/c.txt" })).status).toBe(412);
    expect(await text("ow/a.txt")).toBe("new");
  });

  it("moves: 201 at the new name, and the old name is gone", async () => {
    await putFile("mv/from.txt", "moving");
    const res = await post("/api/files/mv/from.txt/move", { to: "mv/to dir/to.txt" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: "mv/to dir/to.txt", sha256: await sha256("moving") });
    expect(await env.FILES.head("mv/from.txt")).toBeNull();
    expect(await text("mv/to dir/to.txt")).toBe("moving");
  });

  it("answers 404 for a missing source, 400 for a bad target or a copy onto itself", async () => {
    expect((await post("/api/files/none.txt/copy", { to: "x.txt" })).status).toBe(404);
    await putFile("self.txt", "s");
    expect((await post("/api/files/self.txt/move", { to: "self.txt" })).status).toBe(400);
    expect((await post("/api/files/self.txt/copy", { to: "../x" })).status).toBe(400);
    expect((await post("/api/files/self.txt/copy", {})).status).toBe(400);
  });

  it("works for a name of 1024 bytes", async () => {
    const long = `${"l/".repeat(10)}${"é".repeat(502)}`;
    expect(new TextEncoder().encode(long).length).toBe(1024);
    await putFile(long, "long", { "x-content-sha256": await sha256("long") });
    const res = await post(`/api/files/${path(long)}/copy`, { to: `${long.slice(0, -2)}e` });
    expect(res.status).toBe(201);
  });

  it("copies above the single-put limit through multipart, verified, with the source untouched", async () => {
    const body = bytes(12 * 1024 * 1024 + 5, 3);
    await putFile("mp/big.bin", body, { "content-type": "video/x-test" });
    const { files } = stores();
    const copy = await copyFile(files, "mp/big.bin", "mp/big-copy.bin", {
      quota: NO_QUOTA,
      singlePutMax: 6 * 1024 * 1024,
      partBytes: 5 * 1024 * 1024,
    });
    expect(copy).toMatchObject({ size: body.length, sha256: await sha256(body), contentType: "video/x-test" });
    const stored = await env.FILES.get("mp/big-copy.bin");
    // Compared by digest: a failing toEqual would print 12 MiB.
    expect(await sha256(new Uint8Array(await stored!.arrayBuffer()))).toBe(await sha256(body));
    // A multipart object: R2's etag says how many parts it had.
    expect(stored!.etag).toMatch(/-3$/);
  });

  it("keeps a source written after the copy, just before its delete, and answers 409 with both kept", async () => {
    await putFile("race/src.txt", "the version moved");
    const { files } = stores();
    const quota = fileQuota(env as unknown as PeerEnv, files);
    // The move's last step (the source's name, no bytes): a real PUT of the source lands right before it.
    const racing: Quota = {
      ...quota,
      async change(names, bytes, write) {
        if (names.length === 1 && names[0] === "race/src.txt" && bytes === 0) {
          expect((await putFile("race/src.txt", "written during the move")).status).toBe(201);
        }
        return quota.change(names, bytes, write);
      },
    };
    await expect(moveFile(files, "race/src.txt", "race/dst.txt", { quota: racing })).rejects.toMatchObject({ code: "conflict" });
    expect(await text("race/src.txt")).toBe("written during the move");
    expect(await text("race/dst.txt")).toBe("the version moved");
  });

  it("keeps the source and leaves no copy when the source changes half-way through a multipart move", async () => {
    const body = bytes(11 * 1024 * 1024, 9);
    await putFile("half/src.bin", body);
    const real = new FileStore(env.FILES, env.KV);
    // After the first part is stored, someone replaces the source: the copy's next read is pinned to the old etag.
    const racing = Object.assign(Object.create(real) as FileStore, {
      async uploadPart(...args: Parameters<FileStore["uploadPart"]>) {
        const part = await real.uploadPart(...args);
        await env.FILES.put("half/src.bin", "replaced meanwhile");
        return part;
      },
    });
    await expect(
      moveFile(racing, "half/src.bin", "half/dst.bin", { quota: NO_QUOTA, singlePutMax: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 }),
    ).rejects.toMatchObject({ code: "precondition_failed" });
    expect(await text("half/src.bin")).toBe("replaced meanwhile");
    expect(await env.FILES.head("half/dst.bin")).toBeNull();
  });
});

/**
 * The peer with a quota of its own (one counter per peer name, counting the bucket as it is
 * now) that leaves `room` bytes, between 1 and 2 MiB, free.
 */
async function quotaPeer(name: string) {
  const stored = await storedBytes();
  const MiB = 1024 * 1024;
  const limitMb = Math.ceil(stored / MiB) + 1;
  const bound = { ...env, PEER_NAME: name, STORAGE_LIMIT_MB: String(limitMb) };
  const peer = (route: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${TEST_TOKEN}`);
    if (init.body instanceof Uint8Array) headers.set("content-length", String(init.body.byteLength));
    const request = new Request(`${BASE}${route}`, { ...init, headers }) as Request<unknown, IncomingRequestCfProperties>;
    return worker.fetch(request, bound, createExecutionContext());
  };
  return { peer, room: limitMb * MiB - stored };
}

describe("copies count against the storage quota", () => {
  it("refuses a copy and a move past STORAGE_LIMIT_MB with 413, keeping the source and storing no copy", async () => {
    const { peer, room } = await quotaPeer("copy-quota");
    const size = Math.floor(room * 0.6);
    expect((await peer("/api/files/quota/one.bin", { method: "PUT", body: bytes(size) })).status).toBe(201);
    for (const op of ["copy", "move"]) {
      const res = await peer(`/api/files/quota/one.bin/${op}`, { method: "POST", body: JSON.stringify({ to: "quota/two.bin" }) });
      expect(res.status, op).toBe(413);
      expect((await errorOf(res)).code).toBe("payload_too_large");
      expect(await env.FILES.head("quota/two.bin")).toBeNull();
      expect((await env.FILES.head("quota/one.bin"))?.size).toBe(size);
    }
    await env.FILES.delete("quota/one.bin");
  });
});

describe("WebDAV COPY and MOVE onto a file", () => {
  it("keep the file they would have replaced when the copy is refused (413)", async () => {
    const { peer, room } = await quotaPeer("dav-overwrite-quota");
    // The source fits once, the kept file beside it; a second copy of the source does not fit.
    const big = Math.floor(room * 0.6);
    const small = Math.floor(room * 0.2);
    expect((await peer("/api/files/davq/big.bin", { method: "PUT", body: bytes(big) })).status).toBe(201);
    expect((await peer("/api/files/davq/kept.bin", { method: "PUT", body: bytes(small, 3) })).status).toBe(201);
    for (const method of ["COPY", "MOVE"]) {
      const res = await peer("/dav/davq/big.bin", { method, headers: { destination: `${BASE}/dav/davq/kept.bin`, overwrite: "T" } });
      expect(res.status, method).toBe(413);
      expect((await env.FILES.head("davq/kept.bin"))?.size, method).toBe(small);
      expect((await env.FILES.head("davq/big.bin"))?.size, method).toBe(big);
    }
    await env.FILES.delete(["davq/big.bin", "davq/kept.bin"]);
  });
});

describe("copy and move of a folder", () => {
  it("copies every file and empty sub-folder, answering {files, bytes}", async () => {
    await putFile("fc/a.txt", "aaa");
    await putFile("fc/sub/b ü.txt", "bb");
    await post("/api/folders", { path: "fc/sub/empty" });
    const res = await post("/api/folders/fc/copy", { to: "fc-copy" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ files: 2, bytes: 5 });
    expect(await text("fc-copy/a.txt")).toBe("aaa");
    expect(await text("fc-copy/sub/b ü.txt")).toBe("bb");
    expect(await env.FILES.head("fc-copy/sub/empty/")).not.toBeNull();
    expect(await text("fc/a.txt")).toBe("aaa");
  });

  it("moves a folder: the copies whole first, then every source gone", async () => {
    await putFile("fm/a.txt", "a");
    await putFile("fm/deep/b.txt", "b");
    const res = await post("/api/folders/fm/move", { to: "moved/fm" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ files: 2, bytes: 2 });
    expect((await env.FILES.list({ prefix: "fm/" })).objects).toEqual([]);
    expect(await text("moved/fm/deep/b.txt")).toBe("b");
  });

  it("a folder move failing half-way (412 on the third file) keeps every source and removes the copies it made", async () => {
    for (const n of ["a", "b", "c", "d"]) await putFile(`fh/${n}.txt`, n);
    await putFile("fh-to/c.txt", "already there");
    const res = await post("/api/folders/fh/move", { to: "fh-to" });
    expect(res.status).toBe(412);
    for (const n of ["a", "b", "c", "d"]) expect(await text(`fh/${n}.txt`)).toBe(n);
    expect((await env.FILES.list({ prefix: "fh-to/" })).objects.map((o) => o.key)).toEqual(["fh-to/c.txt"]);
    expect(await text("fh-to/c.txt")).toBe("already there");
  });

  it("a folder move refused by the quota half-way keeps every source", async () => {
    for (const n of ["a", "b", "c"]) await putFile(`fq/${n}.txt`, n);
    const { files, folders } = stores();
    let allowed = 2;
    // Room for two files: the third copy is refused, as the peer's quota refuses one (413).
    const quota: Quota = {
      ...NO_QUOTA,
      change: (_names, bytes, write) => {
        if (bytes > 0 && allowed-- <= 0) return Promise.reject(new HttpError("payload_too_large", "no room"));
        return write();
      },
    };
    await expect(copyFolder(files, folders, "fq", "fq-to", { quota, move: true })).rejects.toMatchObject({ code: "payload_too_large" });
    for (const n of ["a", "b", "c"]) expect(await text(`fq/${n}.txt`)).toBe(n);
    expect((await env.FILES.list({ prefix: "fq-to/" })).objects).toEqual([]);
  });

  it("refuses a folder copied into itself (400) and a missing folder (404)", async () => {
    await putFile("self/x.txt", "x");
    expect((await post("/api/folders/self/copy", { to: "self/inner" })).status).toBe(400);
    expect((await post("/api/folders/self/move", { to: "self" })).status).toBe(400);
    expect((await post("/api/folders/no-such/copy", { to: "x" })).status).toBe(404);
  });
});
