/**
 * A client that hangs up on `/api/zip` over real HTTP, against a real peer (its own workerd,
 * real local R2): the archive is far from done when the socket is destroyed. Whatever point it
 * is broken off at, the peer lets go of the files it was reading and answers the next requests
 * whole: health, a complete zip of the same folder checked entry by entry, nothing stored changed.
 */
import { request as httpRequest } from "node:http";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerClient } from "../../src/client/index";
import { type TestNetwork, removeTemp, startNetwork, seededBytes as seeded, sha256Hex as sha256 } from "../support/network";
import { readZip } from "../support/zip";

const MiB = 1024 * 1024;
const FILES = 4;
/** Each file: far more than the 1–2 MiB a client reads before it hangs up, and than the peer reads ahead. */
const SIZE = 32 * MiB;
const FOLDER = "hangup/";
/** "part-0.bin": every entry name has this many bytes. */
const NAME_LENGTH = 10;
/** The archive: per entry a 30-byte local header, its name, its bytes and a 16-byte descriptor; the directory; the end record. */
const ZIP_LENGTH =
  Array.from({ length: FILES }, (_, i) => 30 + NAME_LENGTH + SIZE + i + 16 + 46 + NAME_LENGTH).reduce((a, b) => a + b) + 22;

let net: TestNetwork;
let peer: PeerClient;
let url: string;
let token: string;
/** Entry name (relative to FOLDER) → what was uploaded and where its local header is in the zip. */
const files = new Map<string, { name: string; size: number; sha256: string; crc: number; offset: number }>();

beforeAll(async () => {
  net = await startNetwork({ peers: 1 });
  const p = net.peers[0]!;
  ({ url, token } = p);
  peer = net.client(p.name);
  let offset = 0;
  for (let i = 0; i < FILES; i++) {
    // Sizes differ by a byte, so an entry given another's bytes cannot pass.
    const bytes = seeded(SIZE + i, `zip-hangup-${i}`);
    const name = `part-${i}.bin`;
    const digest = sha256(bytes);
    await peer.putFile(`${FOLDER}${name}`, bytes, { sha256: digest });
    files.set(name, { name, size: bytes.length, sha256: digest, crc: crc32(bytes) >>> 0, offset });
    offset += 30 + NAME_LENGTH + bytes.length + 16;
  }
}, 60_000);

afterAll(async () => {
  await net?.stop();
  if (net) await removeTemp(net.dir);
});

/**
 * Asks for the zip over a raw socket, reads `upTo` bytes of its body (0: none, right after the
 * headers), then destroys the connection. Resolves to the status, Content-Length and bytes read.
 */
function hangUp(path: string, upTo: number, json?: unknown): Promise<{ status: number; length: number; read: number }> {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const req = httpRequest(`${url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const length = Number(res.headers["content-length"]);
      let read = 0;
      const stop = () => {
        res.removeAllListeners("data");
        req.destroy();
        resolve({ status, length, read });
      };
      if (upTo === 0) return stop();
      res.on("data", (chunk: Buffer) => {
        read += chunk.byteLength;
        if (read >= upTo) stop();
      });
      res.on("end", () => reject(new Error(`the zip ended after ${read} bytes, before the hang-up at ${upTo}`)));
      res.on("error", () => undefined);
    });
    req.end(body);
  });
}

/** Every stored file under FOLDER as listed and as HEAD says: name, size, etag, SHA-256. */
async function storedState(): Promise<string[]> {
  const out: string[] = [];
  for await (const f of peer.allFiles(FOLDER)) {
    const head = await peer.headFile(f.name);
    out.push(`${f.name} ${f.size} ${f.etag} ${f.sha256} | ${head?.size} ${head?.etag} ${head?.sha256}`);
  }
  return out.sort();
}

/** Reads a whole zip of FOLDER and checks every entry: CRC, sizes, offsets, and its SHA-256 against the upload. */
async function expectWholeZip(selection: { prefix: string } | { names: string[] }): Promise<void> {
  const zip = await peer.zip(selection);
  expect(zip.size).toBe(ZIP_LENGTH);
  const sizes = new Map([...files.values()].map((f) => [f.name, f.size]));
  const got = await readZip(zip.body, { sizes, keep: () => true });
  expect(got.total).toBe(ZIP_LENGTH);
  expect(got.entries.map((e) => e.name)).toEqual([...files.keys()]);
  for (const entry of got.entries) {
    const file = files.get(entry.name)!;
    expect(entry.size, entry.name).toBe(file.size);
    expect(entry.crc, entry.name).toBe(file.crc);
    expect(sha256(entry.data!), entry.name).toBe(file.sha256);
  }
}

describe("a client that hangs up on /api/zip over HTTP", () => {
  it("leaves the peer answering, the next zip whole and every file as stored, whatever point it hangs up at", async () => {
    const before = await storedState();
    expect(before).toHaveLength(FILES);
    // Where the archive's parts start: entry i's local header, then the central directory. Each
    // point is where the client stops reading; the peer, reading ahead, may be a few MiB further.
    const starts = [...files.values()].map((f) => f.offset);
    const central = ZIP_LENGTH - 22 - FILES * (46 + NAME_LENGTH);
    const prefix = `/api/zip?prefix=${encodeURIComponent(FOLDER)}`;
    const names = { names: [...files.keys()].map((n) => `${FOLDER}${n}`) };
    const hangUps: Array<{ what: string; path: string; at: number; json?: unknown; tail?: true }> = [
      { what: "right after the headers", path: prefix, at: 0 },
      { what: "1.5 MiB into the first entry, the next ones opened ahead", path: prefix, at: 1.5 * MiB },
      { what: "just past the second entry's local header (POST)", path: "/api/zip", at: (starts[1] as number) + 40, json: names },
      { what: "in the middle of the third entry", path: prefix, at: (starts[2] as number) + SIZE / 2 },
      { what: "1 MiB before the end of the last entry", path: prefix, at: central - MiB },
      // The directory is the last few hundred bytes, sent with the last entry's end: the client may have them all, and closes before reading the end.
      { what: "inside the central directory", path: prefix, at: central + 60, tail: true },
    ];
    for (const h of hangUps) {
      const cut = await hangUp(h.path, h.at, h.json);
      expect(cut.status, h.what).toBe(200);
      expect(cut.length, h.what).toBe(ZIP_LENGTH);
      expect(cut.read, h.what).toBeGreaterThanOrEqual(h.at);
      if (!h.tail) expect(cut.read, h.what).toBeLessThan(ZIP_LENGTH);
      // The very next request is answered, and rightly.
      expect((await peer.health()).peer, h.what).toBe("peer1");
    }
    // A zip of the same folder, read whole, is exactly the stored files (by prefix and by names)…
    await expectWholeZip({ prefix: FOLDER });
    await expectWholeZip(names);
    // …and so is one read whole while another client hangs up on the same folder's zip.
    const [, cut] = await Promise.all([expectWholeZip({ prefix: FOLDER }), hangUp(prefix, 1.5 * MiB)]);
    expect(cut.read).toBeLessThan(ZIP_LENGTH);
    // Nothing stored changed: same names, sizes, etags and SHA-256s.
    expect(await storedState()).toEqual(before);
    // The peer logged no failure of its own (a hang-up is the client's doing, never an uncaught error).
    expect(net.output()).not.toMatch(/uncaught|unhandled|error/i);
  }, 60_000);
});
