import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PeerEnv } from "../../src/env";
import type { ReplicationMessage } from "../../src/replication/enqueue";
import { reconcileRule } from "../../src/replication/reconcile";
import type { ReplicationRule } from "../../src/replication/rules";
import { peer2, putFile, sha256 } from "../support/http";
import { PEER2 } from "../support/peers";

/**
 * Reconciliation against the second test peer: the two listings merged page by page (pages of
 * two here, so every kind of difference falls across page boundaries), and a source file the
 * peer has no SHA-256 for is not queued again when the replica holds the same bytes.
 */

const bytes = (text: string) => new TextEncoder().encode(text);

/** The real replication queue, with every message sent to it recorded first. */
function recordingQueue(sent: ReplicationMessage[]): Queue {
  const queue = (env as unknown as PeerEnv).REPLICATION;
  return new Proxy(queue, {
    get(target, prop) {
      if (prop === "sendBatch") {
        return (batch: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          const messages = [...batch];
          for (const m of messages) sent.push(m.body as ReplicationMessage);
          return target.sendBatch(messages, options);
        };
      }
      if (prop === "send") {
        return (body: unknown, options?: QueueSendOptions) => (sent.push(body as ReplicationMessage), target.send(body, options));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const rule: ReplicationRule = {
  id: "reconcile-test",
  prefix: "rc/",
  to: "peer2",
  as: "bk/rc/",
  deletes: "mirror",
  token: PEER2.token,
  created: new Date(0).toISOString(),
};

describe("reconcileRule", () => {
  it("queues only the differences, across listing pages, and not a file without SHA-256 whose replica has its bytes", async () => {
    const both = ["a1", "a2", "a3", "é4", "😀5"];
    for (const n of both) {
      expect((await putFile(`rc/${n}.txt`, bytes(n))).status).toBe(201);
      expect((await peer2(`/api/files/bk/rc/${encodeURIComponent(n)}.txt`, { method: "PUT", body: bytes(n) })).status).toBe(201);
    }
    // Stored here without the peer's digest (as an object from before it recorded them).
    const raw = env as unknown as PeerEnv;
    await raw.FILES.put("rc/b-nosha.bin", bytes("same bytes on both sides"));
    await raw.FILES.put("rc/c-nosha-differs.bin", bytes("same size, other bytes A"));
    for (const [name, body] of [
      ["b-nosha.bin", "same bytes on both sides"],
      ["c-nosha-differs.bin", "same size, other bytes B"],
      ["d-differs.txt", "there"],
      ["z-only-there.txt", "gone here"],
      ["ä-only-there.txt", "gone here too"],
    ]) {
      expect(
        (await peer2(`/api/files/bk/rc/${encodeURIComponent(name as string)}`, { method: "PUT", body: bytes(body as string) })).status,
      ).toBe(201);
    }
    expect((await putFile("rc/d-differs.txt", bytes("here"))).status).toBe(201);
    expect((await putFile("rc/e-only-here.txt", bytes("new"))).status).toBe(201);
    expect((await putFile("rc/f/only-here-deeper.txt", bytes("new"))).status).toBe(201);

    const sent: ReplicationMessage[] = [];
    const watched = { ...raw, REPLICATION: recordingQueue(sent) } as PeerEnv;
    const report = await reconcileRule(watched, rule, { pageSize: 2 });
    // Queued: c (same size, other bytes), d, e, f/…; deleted: the two only there.
    expect(report).toEqual({ rule: rule.id, puts: 4, deletes: 2, identical: both.length + 1 });
    // Exactly those, in the merged listings' order (code points: "z" < "ä"), each delete bound to the replica's SHA-256.
    const expected = [
      { op: "put", name: "rc/c-nosha-differs.bin" },
      { op: "put", name: "rc/d-differs.txt" },
      { op: "put", name: "rc/e-only-here.txt" },
      { op: "put", name: "rc/f/only-here-deeper.txt" },
      { op: "delete", name: "rc/z-only-there.txt", sha256: await sha256("gone here") },
      { op: "delete", name: "rc/ä-only-there.txt", sha256: await sha256("gone here too") },
    ];
    const seen = (messages: ReplicationMessage[]) =>
      messages.map((m) => ({ op: m.op, name: m.name, ...(m.op === "delete" && { sha256: m.sha256 }) }));
    expect(seen(sent)).toEqual(expected);
    expect(sent.every((m) => m.v === 1 && m.rule === rule.id)).toBe(true);
    // A second tick finds the same, and no more.
    sent.length = 0;
    expect(await reconcileRule(watched, rule)).toEqual(report);
    expect(seen(sent)).toEqual(expected);
  });
});
