import { type Hash, createHash } from "node:crypto";
import { byobReaderOf, readFull } from "./byteReads";

export type { Hash };

/**
 * A streaming SHA-256 with a synchronous `update` (native, ~1.5 GB/s here) that can be kept
 * from one request to the next and copied — neither of which `crypto.DigestStream` allows.
 */
export const newSha256 = (): Hash => createHash("sha256");

/**
 * Reads at least this much per step. A default reader gets a request or R2 body from workerd
 * in 4 KiB chunks; one JavaScript step per 4 KiB chunk held a hashing upload to ~55% of a
 * plain put (BENCHMARKS.md). A BYOB `readAtLeast` of 256 KiB makes it 64× fewer steps.
 */
const STEP = 256 * 1024;

/**
 * Copies `body` into `sink`, handing every chunk to `onChunk` before it is written (an
 * `onChunk` that returns a promise holds the reading back until it settles). On any failure,
 * or when `signal` aborts, both sides are cancelled and the error is rethrown.
 */
export async function copyThrough(
  body: ReadableStream<Uint8Array>,
  sink: WritableStream<Uint8Array> | null,
  onChunk: (chunk: Uint8Array) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const writer = sink?.getWriter();
  const next = stepper(body);
  signal?.addEventListener("abort", () => {
    next.cancel(signal.reason);
    writer?.abort(signal.reason).catch(() => {});
  });
  try {
    for (;;) {
      const chunk = await next.read();
      if (!chunk) break;
      await onChunk(chunk);
      await writer?.write(chunk);
    }
    await writer?.close();
  } catch (err) {
    next.cancel(err);
    writer?.abort(err).catch(() => {});
    throw err;
  }
}

/** Hashes `body` to its end. */
export async function hashStream(body: ReadableStream<Uint8Array>, hash: Hash = newSha256()): Promise<Hash> {
  await copyThrough(body, null, (chunk) => {
    hash.update(chunk);
  });
  return hash;
}

/** Large reads where the stream allows them (workerd's byte streams), plain reads otherwise. */
function stepper(body: ReadableStream<Uint8Array>): { read: () => Promise<Uint8Array | null>; cancel: (reason: unknown) => void } {
  const byob = byobReaderOf(body);
  if (byob) {
    const reader = byob;
    let ended = false;
    return {
      async read() {
        if (ended) return null;
        // A fresh buffer each step: the chunk handed out may still be queued in the sink.
        const { bytes, done } = await readFull(reader, STEP);
        if (done) ended = true;
        return bytes.byteLength ? bytes : ended ? null : new Uint8Array(0);
      },
      cancel: (reason) => void reader.cancel(reason).catch(() => {}),
    };
  }
  const reader = body.getReader();
  return {
    async read() {
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    cancel: (reason) => void reader.cancel(reason).catch(() => {}),
  };
}
