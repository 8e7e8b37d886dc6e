import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FileStore } from "../../src/storage/files";
import { type ZipEntry, entryOf, openerFor } from "../../src/storage/zip";
import { zipStream } from "../../src/storage/zipWriter";
import { call, errorOf, putFile } from "../support/http";
import { crc32, readZip } from "../support/zip";

const GiB = 1024 ** 3;
const text = (s: string) => new TextEncoder().encode(s);
const post = (body: unknown) =>
  call("/api/zip", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

/** A stream of `size` zero bytes, the same 1 MiB buffer over and over: no memory, no storage. */
function zeros(size: number): ReadableStream<Uint8Array> {
  const block = new Uint8Array(1024 * 1024);
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(left, block.byteLength);
      controller.enqueue(n === block.byteLength ? block : block.subarray(0, n));
      left -= n;
    },
  });
}

/** Checks a zip answer's headers and reads it, with every entry's bytes kept. */
async function zipOf(res: Response, files: Record<string, string>) {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/zip");
  const length = Number(res.headers.get("content-length"));
  const zip = await readZip(res.body!, {
    sizes: new Map(Object.entries(files).map(([k, v]) => [k, text(v).byteLength])),
    keep: () => true,
  });
  expect(zip.total).toBe(length);
  const contents = Object.fromEntries(zip.entries.map((e) => [e.name, new TextDecoder().decode(e.data)]));
  expect(contents).toEqual(files);
  for (const e of zip.entries) expect(e.utf8, e.name).toBe(true);
  return zip;
}

describe("GET /api/zip?prefix=", () => {
  it("zips every file under a folder, named relative to it, with unicode and spaces, exact Content-Length", async () => {
    const files = { "a.txt": "alpha", "sub dir/b ü.txt": "beta beta", "日本/c.md": "# c", "empty.bin": "" };
    for (const [name, body] of Object.entries(files)) await putFile(`zp/docs/${name}`, body);
    await call("/api/folders", { method: "POST", body: JSON.stringify({ path: "zp/docs/empty folder" }) });
    await putFile("zp/other.txt", "not in it");
    const res = await call(`/api/zip?prefix=${encodeURIComponent("zp/docs/")}`);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="docs.zip"; filename*=UTF-8''docs.zip`);
    const zip = await zipOf(res, files);
    expect(zip.entries.map((e) => e.name)).toEqual(["a.txt", "empty.bin", "sub dir/b ü.txt", "日本/c.md"]);
    expect(zip.zip64Count).toBeNull();
  });

  it("zips one file", async () => {
    await putFile("zp1/only.txt", "just me");
    await zipOf(await call("/api/zip?prefix=zp1/"), { "only.txt": "just me" });
  });

  it("answers 404 when nothing is under the prefix, an empty folder included", async () => {
    await call("/api/folders", { method: "POST", body: JSON.stringify({ path: "zp0/empty" }) });
    for (const prefix of ["zp0/", "zp-none/"]) {
      const res = await call(`/api/zip?prefix=${prefix}`);
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
  });

  it("names the download after a unicode folder with an ASCII fallback", async () => {
    await putFile("zpu/Café Ünï/x.txt", "x");
    const res = await call(`/api/zip?prefix=${encodeURIComponent("zpu/Café Ünï/")}`);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Caf_ _n_.zip"; filename*=UTF-8''${encodeURIComponent("Café Ünï.zip")}`,
    );
    await zipOf(res, { "x.txt": "x" });
  });
});

describe("POST /api/zip", () => {
  it("zips chosen files and folders, named relative to the folder they share", async () => {
    await putFile("zn/p/a.txt", "a");
    await putFile("zn/p/b.txt", "b");
    await putFile("zn/p/q/c.txt", "c");
    await putFile("zn/p/q/d.txt", "d");
    const res = await post({ names: ["zn/p/a.txt", "zn/p/q/", "zn/p/q/c.txt"] });
    await zipOf(res, { "a.txt": "a", "q/c.txt": "c", "q/d.txt": "d" });
  });

  it("answers 404 for a missing file, 400 for no names or a bad name", async () => {
    expect((await post({ names: ["zn/none.txt"] })).status).toBe(404);
    expect((await post({ names: [] })).status).toBe(400);
    expect((await post({ names: ["../x"] })).status).toBe(400);
  });
});

describe("zip64", () => {
  it("writes zip64 records past 4 GiB, verified as the stream passes (nothing stored)", async () => {
    const entries: ZipEntry[] = [
      { name: "first.txt", key: "first.txt", size: 5, etag: "", modified: new Date("2025-01-02T03:04:06Z") },
      { name: "big/zeros.bin", key: "big", size: 4 * GiB + 17, etag: "", modified: new Date("2025-01-02T03:04:06Z") },
      { name: "after.txt", key: "after.txt", size: 5, etag: "", modified: new Date("2025-01-02T03:04:06Z") },
    ];
    const { length, stream } = zipStream(entries, async (e) => (e.key === "big" ? zeros(e.size) : new Response(text("hello")).body!));
    const zip = await readZip(stream, {
      sizes: new Map(entries.map((e) => [e.name, e.size])),
      keep: (name) => name.endsWith(".txt"),
      // CRC-32 of 4 GiB in a test would take minutes; the small files are checked.
      checkCrc: (_name, size) => size < 1024,
    });
    expect(zip.total).toBe(length);
    expect(length).toBeGreaterThan(4 * GiB);
    expect(zip.zip64Count).toBe(3);
    expect(zip.endCount).toBe(3);
    const [first, big, after] = zip.entries;
    expect(first).toMatchObject({ name: "first.txt", size: 5, offset: 0, zip64: false, crc: crc32(text("hello")) });
    expect(big).toMatchObject({ name: "big/zeros.bin", size: 4 * GiB + 17, zip64: true });
    // After 4 GiB the offset itself needs the zip64 field.
    expect(after).toMatchObject({ name: "after.txt", size: 5, zip64: true });
    expect(after!.offset).toBeGreaterThan(0xffffffff);
    expect(new TextDecoder().decode(after!.data)).toBe("hello");
  }, 600_000);

  it("writes zip64 end records past 65,535 entries", async () => {
    const count = 65_540;
    const entries: ZipEntry[] = Array.from({ length: count }, (_, i) => ({
      name: `f${i}`,
      key: `f${i}`,
      size: i % 1000 === 0 ? 1 : 0,
      etag: "",
      modified: new Date("2025-01-02T03:04:06Z"),
    }));
    const one = text("x");
    const none = new Uint8Array(0);
    const { length, stream } = zipStream(entries, async (e) => (e.size ? one : none));
    const zip = await readZip(stream, { sizes: new Map(entries.map((e) => [e.name, e.size])) });
    expect(zip.total).toBe(length);
    expect(zip.entries.length).toBe(count);
    expect(zip.zip64Count).toBe(count);
    // The classic record says "see zip64" rather than a wrong count.
    expect(zip.endCount).toBe(0xffff);
    expect(zip.entries[65_539]?.name).toBe("f65539");
  }, 300_000);
});

/** The real store, keeping every R2 body it hands out, to see what became of each. */
class WatchedStore extends FileStore {
  readonly bodies: ReadableStream<Uint8Array>[] = [];
  override async get(...args: Parameters<FileStore["get"]>) {
    const read = await super.get(...args);
    if (read) this.bodies.push(read.object.body);
    return read;
  }
}

describe("a zip left before its end", () => {
  const MiB = 1024 * 1024;
  /** Five 2 MiB files, so the zip is mid-file after its first chunk with the next three opened ahead. */
  async function fiveFiles(folder: string) {
    const files = new WatchedStore(env.FILES, env.KV);
    const entries: ZipEntry[] = [];
    for (let i = 0; i < 5; i++) {
      await putFile(`${folder}/f${i}`, new Uint8Array(2 * MiB).fill(i + 1));
      entries.push(await entryOf(files, `${folder}/f${i}`, `${folder}/`));
    }
    return { files, entries };
  }

  /** Each body the store gave out was cancelled and let go: nothing left to read in it. */
  async function expectAllCancelled(files: WatchedStore) {
    expect(files.bodies.length).toBe(4);
    // Those opened ahead first: before the fix they were never started, so nothing cancelled them.
    for (const [i, body] of [...files.bodies.entries()].reverse()) {
      expect(body.locked, `body ${i}`).toBe(false);
      expect((await body.getReader().read()).done, `body ${i}`).toBe(true);
    }
  }

  it("cancels the R2 bodies it opened (the one being read and those read ahead) when the download is cancelled", async () => {
    const { files, entries } = await fiveFiles("zc");
    const reader = zipStream(entries, openerFor(files)).stream.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel("client went away");
    await expectAllCancelled(files);
  });

  it("cancels the R2 bodies it opened when a file fails", async () => {
    const { files, entries } = await fiveFiles("zf");
    // Listed a byte longer than stored: the first file comes up short and fails the zip.
    entries[0]!.size += 1;
    const reader = zipStream(entries, openerFor(files)).stream.getReader();
    await expect(async () => {
      for (;;) if ((await reader.read()).done) break;
    }).rejects.toThrow(/gave 2097152 bytes/);
    await expectAllCancelled(files);
  });
});
