/**
 * The storage quota under real concurrent load: a network started with
 * `--var STORAGE_LIMIT_MB=10` takes PUTs, multipart uploads and pulls that together offer four
 * times the limit, all in flight at once. What is stored never exceeds the limit by a byte,
 * every refusal is a 413, every acknowledged file reads back intact, and once everything has
 * settled the counter is exact: the room left takes exactly that many bytes and no more.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileMeta, type PeerClient, PeerError } from "../../src/client/index";
import { type TestNetwork, removeTemp, startNetwork, seededBytes as seeded, sha256Hex as sha256 } from "../support/network";

const MiB = 1024 * 1024;
const LIMIT = 10 * MiB;

let net: TestNetwork;
let peer1: PeerClient;

beforeAll(async () => {
  net = await startNetwork({ peers: 2, vars: { STORAGE_LIMIT_MB: "10" } });
  peer1 = net.client("peer1", { multipartThreshold: MiB });
});

afterAll(async () => {
  await net?.stop().catch(() => undefined);
  if (net) await removeTemp(net.dir);
});

interface Attempt {
  name: string;
  bytes: Buffer;
  run: () => Promise<{ name: string; size: number }>;
}

/** Resolves once the first attempt has been refused (its answer arrived). */
let firstRefused: () => void = () => undefined;
const refusedOnce = new Promise<void>((resolve) => {
  firstRefused = resolve;
});

/**
 * `bytes` as a stream that sends its first half and holds the rest back until an attempt has
 * been refused (at most 10 s): the PUTs stay in flight while a refusal is answered, so the race
 * is there on any machine. Some pull and some multipart upload are always refused (neither
 * all four pulls nor both uploads fit), and they wait on no held body.
 */
function held(bytes: Uint8Array): ReadableStream<Uint8Array> {
  const half = Math.floor(bytes.length / 2);
  let step = 0;
  return new ReadableStream({
    async pull(controller) {
      if (step === 0) controller.enqueue(bytes.slice(0, half));
      else if (step === 1) {
        await Promise.race([refusedOnce, new Promise((r) => setTimeout(r, 10_000).unref())]);
        controller.enqueue(bytes.slice(half));
      } else controller.close();
      step++;
    },
  });
}

describe("STORAGE_LIMIT_MB under concurrent overlapping uploads", () => {
  it("PUTs, multipart uploads and pulls offering 4× the limit at once never store a byte past it", async () => {
    // The pull source: a 3 MiB file on peer2 (which has the same 10 MiB limit).
    const source = seeded(3 * MiB, "quota-load-source");
    const peer2 = net.client("peer2");
    await peer2.putFile("source.bin", source, { sha256: sha256(source) });
    const link = (await peer2.shareFile("source.bin")).url;

    const attempts: Attempt[] = [];
    for (let i = 0; i < 6; i++) {
      const bytes = seeded(3 * MiB + i * 1001, `quota-load-put-${i}`);
      const name = `put-${i}.bin`;
      attempts.push({ name, bytes, run: () => peer1.putFile(name, held(bytes), { size: bytes.length, sha256: sha256(bytes) }) });
    }
    for (let i = 0; i < 2; i++) {
      // Two parts each (5 MiB + the rest), sent at once by the client.
      const bytes = seeded(6 * MiB + i * 777, `quota-load-multipart-${i}`);
      const name = `multipart-${i}.bin`;
      attempts.push({ name, bytes, run: () => peer1.upload(name, new Blob([new Uint8Array(bytes)]), { sha256: sha256(bytes) }) });
    }
    for (let i = 0; i < 4; i++) {
      const name = `pull-${i}.bin`;
      attempts.push({ name, bytes: source, run: () => peer1.pullFile(name, link) });
    }
    const offered = attempts.reduce((n, a) => n + a.bytes.length, 0);
    expect(offered).toBeGreaterThan(4 * LIMIT);

    // Everything in flight at once; the order in which answers arrive is recorded.
    const events: { name: string; ok: boolean }[] = [];
    const outcomes = await Promise.all(
      attempts.map((a) =>
        a.run().then(
          (meta) => {
            events.push({ name: a.name, ok: true });
            return { attempt: a, meta, err: undefined };
          },
          (err: unknown) => {
            events.push({ name: a.name, ok: false });
            firstRefused();
            return { attempt: a, meta: undefined, err };
          },
        ),
      ),
    );

    const accepted = outcomes.filter((o) => o.meta);
    const refused = outcomes.filter((o) => o.err);
    for (const o of refused) {
      const err = o.err as PeerError;
      expect(err, o.attempt.name).toBeInstanceOf(PeerError);
      expect(`${o.attempt.name}: ${err.status} ${err.code}`).toBe(`${o.attempt.name}: 413 payload_too_large`);
    }
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // The race happened: a refusal was answered while an upload that was then accepted was still in flight.
    const firstRefusal = events.findIndex((e) => !e.ok);
    expect(
      events.slice(firstRefusal).some((e) => e.ok),
      JSON.stringify(events),
    ).toBe(true);

    // Stored: exactly the acknowledged files, intact, within the limit.
    const stored = [];
    for await (const f of peer1.allFiles()) stored.push(f);
    expect(stored.map((f) => f.name).sort()).toEqual(accepted.map((o) => o.attempt.name).sort());
    const used = stored.reduce((n, f) => n + f.size, 0);
    expect(used).toBeLessThanOrEqual(LIMIT);
    for (const o of accepted) {
      expect(o.meta?.size).toBe(o.attempt.bytes.length);
      expect(sha256(await peer1.getFileBytes(o.attempt.name)), o.attempt.name).toBe(sha256(o.attempt.bytes));
    }

    // Everything settled, nothing is still reserved: the room left fits exactly, and not a byte more.
    const rest = LIMIT - used;
    if (rest > 0) await peer1.putFile("exact-rest.bin", new Uint8Array(rest));
    const over = await peer1.putFile("one-byte-more.bin", new Uint8Array(1)).catch((err: unknown) => err);
    expect((over as PeerError).code).toBe("payload_too_large");

    // A delete gives its room back at once.
    const freed = stored[0] as FileMeta;
    await peer1.deleteFile(freed.name);
    await peer1.putFile("after-delete.bin", new Uint8Array(freed.size));
  });
});
