/**
 * The zip writer's archives opened by real unzippers: Info-ZIP's `unzip -t` (every CRC checked)
 * and Python's `zipfile` (names, sizes, dates, modes, bytes). The writer is pure code over web
 * streams and `node:zlib`'s crc32, the same in Node as in workerd; test/worker/zip.test.ts
 * drives it inside the worker against R2, and past 4 GiB.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ZipFile, zipLength, zipStream } from "../../src/storage/zipWriter";

const run = promisify(execFile);
const text = (s: string) => new TextEncoder().encode(s);
const MODIFIED = new Date("2025-01-02T03:04:06Z");

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "edgepeer-zip-writer-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Source extends ZipFile {
  bytes: Uint8Array;
  /** Hand the bytes over as a stream in pieces of this size, rather than as one array. */
  piece?: number;
}

/** Writes the zip of `files` to a file; checks it has the length announced before a byte was written. */
async function writeArchive(label: string, files: Source[]): Promise<string> {
  const { length, stream } = zipStream(files, async (f) => (f.piece ? inPieces(f.bytes, f.piece) : f.bytes));
  expect(length).toBe(zipLength(files));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  expect(bytes.byteLength).toBe(length);
  const path = join(tmp, `${label}.zip`);
  await writeFile(path, bytes);
  return path;
}

function inPieces(bytes: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

/** What Python's zipfile reads: per entry name, size, CRC, date, Unix mode and a digest of the bytes; the zip64 end record. */
async function pythonRead(path: string) {
  const script = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    out = {"bad": bad, "entries": []}
    for i in z.infolist():
        out["entries"].append({"name": i.filename, "size": i.file_size, "compressed": i.compress_size, "crc": i.CRC,
            "method": i.compress_type, "date": list(i.date_time), "mode": i.external_attr >> 16, "utf8": bool(i.flag_bits & 0x800),
            "sha256": hashlib.sha256(z.read(i)).hexdigest()})
with open(sys.argv[1], "rb") as f:
    out["zip64"] = b"PK\\x06\\x06" in f.read()[-200:]
print(json.dumps(out))
`;
  const { stdout } = await run("python3", ["-c", script, path], { maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(stdout) as {
    bad: string | null;
    zip64: boolean;
    entries: {
      name: string;
      size: number;
      compressed: number;
      crc: number;
      method: number;
      date: number[];
      mode: number;
      utf8: boolean;
      sha256: string;
    }[];
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("zip writer, read back by unzip and Python's zipfile", () => {
  it("writes small, empty, streamed and unicode-named files that both readers accept byte for byte", async () => {
    const big = new Uint8Array(300_000).map((_, i) => (i * 2654435761) >>> 24);
    const files: Source[] = [
      { name: "a.txt", size: 5, modified: MODIFIED, bytes: text("hello") },
      { name: "empty.bin", size: 0, modified: MODIFIED, bytes: new Uint8Array(0) },
      { name: "empty-stream.bin", size: 0, modified: MODIFIED, bytes: new Uint8Array(0), piece: 7 },
      { name: "sub dir/b ü.txt", size: 9, modified: MODIFIED, bytes: text("beta beta") },
      { name: "日本/深い/c.md", size: 3, modified: MODIFIED, bytes: text("# c") },
      { name: "streamed/big.bin", size: big.byteLength, modified: MODIFIED, bytes: big, piece: 4096 + 3 },
    ];
    const path = await writeArchive("small", files);

    const { stdout } = await run("unzip", ["-t", path]);
    expect(stdout).toContain("No errors detected");

    const read = await pythonRead(path);
    expect(read.bad).toBeNull();
    expect(read.zip64).toBe(false);
    expect(read.entries.map((e) => e.name)).toEqual(files.map((f) => f.name));
    for (const [i, e] of read.entries.entries()) {
      const f = files[i] as Source;
      expect(e, f.name).toMatchObject({
        size: f.size,
        compressed: f.size,
        method: 0,
        utf8: true,
        date: [2025, 1, 2, 3, 4, 6],
        mode: 0o100664,
      });
      expect(e.sha256, f.name).toBe(sha256(f.bytes));
    }
  });

  it("writes zip64 end records at 65,535 entries, where the classic count field is all ones", async () => {
    const files: Source[] = Array.from({ length: 0xffff }, (_, i) => {
      const bytes = i % 1000 === 0 ? text(`file ${i}`) : new Uint8Array(0);
      return { name: `d${i % 10}/f${i}`, size: bytes.byteLength, modified: MODIFIED, bytes };
    });
    const path = await writeArchive("count", files);

    const { stdout } = await run("unzip", ["-tq", path], { maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toContain("No errors detected");

    const read = await pythonRead(path);
    expect(read.bad).toBeNull();
    expect(read.zip64).toBe(true);
    expect(read.entries.length).toBe(0xffff);
    expect(read.entries[65_000]).toMatchObject({ name: "d0/f65000", size: 10 });
    expect(read.entries[65_534]?.name).toBe("d4/f65534");
  }, 120_000);

  it("fails the stream when a file gives fewer or more bytes than listed", async () => {
    for (const given of [text("shor"), text("longer!")]) {
      const files: Source[] = [{ name: "x.txt", size: 5, modified: MODIFIED, bytes: given, piece: 2 }];
      const { stream } = zipStream(files, async (f) => inPieces(f.bytes, 2));
      await expect(new Response(stream).arrayBuffer()).rejects.toThrow(/x\.txt/);
    }
  });
});
