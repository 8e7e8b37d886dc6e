import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { FileStore } from "../../src/storage/files";
import { readBack, waitingPartBytes } from "../../src/storage/uploadDigests";
import { sha256 } from "../support/http";

/**
 * The digest a multipart upload builds while its parts arrive (src/storage/uploadDigests.ts),
 * against the real local R2: whatever the order, concurrency, retries and failures of the
 * parts, the SHA-256 at completion is that of the bytes R2 assembled, and it is read back only
 * where the parts could not be hashed in order.
 */

const MiB = 1024 * 1024;
const store = () => new FileStore(env.FILES, env.KV);

/** Part n's bytes: 5 MiB (the platform's minimum for all but the last), patterned by n and a seed. */
function bytesOf(n: number, seed = 0, size = 5 * MiB): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) out[i] = (n * 31 + seed + i / 4096) & 0xff;
  out[size - 1] = n + seed;
  return out;
}

const streamOf = (bytes: Uint8Array) => new Response(bytes).body as ReadableStream<Uint8Array>;

/** A body that sends `sent` bytes of `bytes` and then breaks off. */
function brokenStream(bytes: Uint8Array, sent: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= sent) return controller.error(new Error("client went away"));
      const next = Math.min(sent, at + 64 * 1024);
      controller.enqueue(bytes.slice(at, next));
      at = next;
    },
  });
}

async function digestOf(parts: Uint8Array[]): Promise<string> {
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    whole.set(p, at);
    at += p.byteLength;
  }
  return sha256(whole);
}

async function upload(files: FileStore, name: string, id: string, n: number, bytes: Uint8Array) {
  const uploaded = await files.uploadPart(name, id, n, streamOf(bytes), bytes.byteLength);
  return { partNumber: uploaded.partNumber, etag: uploaded.etag };
}

beforeEach(() => {
  readBack.completions = 0;
  readBack.bytes = 0;
});

// Tens of MiB through the local R2 per test: generous timeouts for a loaded machine.
describe("the digest of a multipart upload", { timeout: 60_000 }, () => {
  it("is built from parts sent in order, with nothing read back", async () => {
    const files = store();
    const name = "digests/in-order.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1), bytesOf(2), bytesOf(3, 0, 1234)];
    const parts = [];
    for (const [i, b] of bodies.entries()) parts.push(await upload(files, name, id, i + 1, b));
    const meta = await files.completeUpload(name, id, parts);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack).toEqual({ completions: 0, bytes: 0 });
  });

  it("is built from parts sent all at once: the later ones wait their turn, and memory is given back", async () => {
    const files = store();
    const name = "digests/concurrent.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 7), bytesOf(2, 7), bytesOf(3, 7), bytesOf(4, 7, 99)];
    // Part 1 sends its first MiB and holds the rest until parts 2-4 are stored: they arrive
    // ahead of their turn for certain, and must wait in memory (the race this test is about).
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = bodies[0]!;
    const gated = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(first.slice(0, MiB));
      },
      async pull(controller) {
        await held;
        controller.enqueue(first.slice(MiB));
        controller.close();
      },
    });
    const part1 = files.uploadPart(name, id, 1, gated, first.byteLength);
    const later = await Promise.all(bodies.slice(1).map((b, i) => upload(files, name, id, i + 2, b)));
    expect(waitingPartBytes()).toBe(bodies.slice(1).reduce((n, b) => n + b.byteLength, 0));
    release();
    const p1 = await part1;
    const parts = [{ partNumber: p1.partNumber, etag: p1.etag }, ...later];
    expect(waitingPartBytes()).toBe(0);
    const meta = await files.completeUpload(name, id, parts);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack.bytes).toBe(0);
  });

  it("holds parts sent ahead of their turn, one by one, until the chain reaches them", async () => {
    const files = store();
    const name = "digests/out-of-order.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 3), bytesOf(2, 3), bytesOf(3, 3, 4321)];
    const p3 = await upload(files, name, id, 3, bodies[2]!);
    const p2 = await upload(files, name, id, 2, bodies[1]!);
    expect(waitingPartBytes()).toBe(5 * MiB + 4321);
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    expect(waitingPartBytes()).toBe(0);
    const meta = await files.completeUpload(name, id, [p1, p2, p3]);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack).toEqual({ completions: 0, bytes: 0 });
  });

  it("stores a part unhashed once the parts held ahead of their turn reach 32 MiB, and reads back from there", async () => {
    const files = store();
    const name = "digests/over-budget.bin";
    const id = await files.createUpload(name);
    const bodies = Array.from({ length: 8 }, (_, i) => bytesOf(i + 1, 21));
    const parts = [];
    for (let n = 2; n <= 8; n++) parts.push(await upload(files, name, id, n, bodies[n - 1]!));
    expect(waitingPartBytes()).toBe(30 * MiB);
    parts.unshift(await upload(files, name, id, 1, bodies[0]!));
    expect(waitingPartBytes()).toBe(0);
    const meta = await files.completeUpload(name, id, parts);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack).toEqual({ completions: 1, bytes: 5 * MiB });
  });

  it("reads the whole file back when a hashed part was sent again with other bytes", async () => {
    const files = store();
    const name = "digests/replaced.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 5), bytesOf(2, 5), bytesOf(3, 5, 10)];
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    await upload(files, name, id, 2, bodies[1]!);
    const p3 = await upload(files, name, id, 3, bodies[2]!);
    bodies[1] = bytesOf(2, 99);
    const p2 = await upload(files, name, id, 2, bodies[1]!);
    const meta = await files.completeUpload(name, id, [p1, p2, p3]);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack.bytes).toBe(meta.size);
  });

  it("goes back to before a part that broke off, so its retry continues the digest", async () => {
    const files = store();
    const name = "digests/retried.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 11), bytesOf(2, 11), bytesOf(3, 11, 777)];
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    await expect(files.uploadPart(name, id, 2, brokenStream(bodies[1]!, 3 * MiB), 5 * MiB)).rejects.toThrow();
    const p2 = await upload(files, name, id, 2, bodies[1]!);
    const p3 = await upload(files, name, id, 3, bodies[2]!);
    const meta = await files.completeUpload(name, id, [p1, p2, p3]);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack.bytes).toBe(0);
  });

  it("stores the parts lined up behind a failed part unhashed, and reads them back", async () => {
    const files = store();
    const name = "digests/failed-ahead.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 13), bytesOf(2, 13), bytesOf(3, 13, 555)];
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    const [failed, p3] = await Promise.allSettled([
      files.uploadPart(name, id, 2, brokenStream(bodies[1]!, 2 * MiB), 5 * MiB),
      upload(files, name, id, 3, bodies[2]!),
    ]);
    expect(failed.status).toBe("rejected");
    expect(p3.status).toBe("fulfilled");
    expect(waitingPartBytes()).toBe(0);
    const p2 = await upload(files, name, id, 2, bodies[1]!);
    const meta = await files.completeUpload(name, id, [p1, p2, (p3 as PromiseFulfilledResult<{ partNumber: number; etag: string }>).value]);
    expect(meta.sha256).toBe(await digestOf(bodies));
    expect(readBack).toEqual({ completions: 1, bytes: 555 });
  });

  it("reads the whole file back when fewer parts are completed than were hashed", async () => {
    const files = store();
    const name = "digests/subset.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 17), bytesOf(2, 17)];
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    await upload(files, name, id, 2, bodies[1]!);
    const meta = await files.completeUpload(name, id, [p1]);
    expect(meta.sha256).toBe(await digestOf([bodies[0]!]));
    expect(readBack.bytes).toBe(5 * MiB);
  });

  it("does not let a part still streaming at completion, or sent twice at once, into the digest", async () => {
    const files = store();
    const name = "digests/stalled.bin";
    const id = await files.createUpload(name);
    const bodies = [bytesOf(1, 23), bytesOf(2, 23, 3000)];
    const p1 = await upload(files, name, id, 1, bodies[0]!);
    // Attempt A of part 2 sends 1 MiB and stalls (its client vanished without a word) ...
    let stall!: ReadableStreamDefaultController<Uint8Array>;
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        stall = controller;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(0xee));
      },
    });
    const attemptA = files.uploadPart(name, id, 2, stalled, 3000 + 1024 * 1024);
    attemptA.catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    // ... and the client retries it as B, which completes.
    const p2 = await upload(files, name, id, 2, bodies[1]!);
    const meta = await files.completeUpload(name, id, [p1, p2]);
    stall.error(new Error("gone"));
    await expect(attemptA).rejects.toThrow();
    expect(meta.sha256).toBe(await digestOf(bodies));
  });
});
