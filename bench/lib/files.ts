/** Test files on disk: a seeded, incompressible pattern, written and hashed once per run. */
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createReadStream } from "node:fs";

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

const CHUNK = 1024 * 1024;

/**
 * Writes `size` bytes of AES-128-CTR keystream (key from `seed`) to `dir/name`: the same
 * bytes on every run, nothing a compressor could shrink, never more than 1 MiB in memory.
 */
export async function makeTestFile(dir: string, name: string, size: number, seed = "edgepeer-bench"): Promise<TestFile> {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const hash = createHash("sha256");
  const path = join(dir, name);
  const out = createWriteStream(path);
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) {
    const chunk = cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return { path, size, sha256: hash.digest("hex") };
}

/** The file as a web stream, read in 256 KiB chunks (as the client's `fileSource` reads). */
export function fileStream(file: TestFile): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(file.path, { highWaterMark: 256 * 1024 })) as ReadableStream<Uint8Array>;
}

/** Reads a body to its end, counting bytes. */
export async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  return bytes;
}
