import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PeerEnv } from "../../src/env";
import type { ReplicationMessage } from "../../src/replication/enqueue";
import type { FileMeta } from "../../src/client/types";
import { sameContent } from "../../src/replication/content";
import { reconcileRule } from "../../src/replication/reconcile";
import { replicaPage } from "../../src/replication/replicas";
import type { ReplicationRule } from "../../src/replication/rules";
import { call, peer2, putFile, sha256 } from "../support/http";
import { PEER2 } from "../support/peers";

/**
 * Reconciliation against the second test peer: the two listings merged page by page (pages of
 * two here, so every kind of difference falls across page boundaries), and a source file the
 * peer has no SHA-256 for is not queued again when the replica provably holds the same bytes
 * (same single-put MD5, or pulled from that very version); the per-file replica state says
 * exactly what reconcile does (one rule, `sameContent`).
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

/** Stores `parts` here as one R2 multipart object, as a file the peer holds no SHA-256 for (etag `…-N`). */
async function multipartWithoutSha(name: string, parts: Uint8Array[]): Promise<R2Object> {
  const bucket = (env as unknown as PeerEnv).FILES;
  const upload = await bucket.createMultipartUpload(name);
  const uploaded = [];
  for (const [i, part] of parts.entries()) uploaded.push(await upload.uploadPart(i + 1, part));
  return upload.complete(uploaded);
}

const MiB = 1024 * 1024;
const filled = (size: number, byte: number) => new Uint8Array(size).fill(byte);

describe("a source file without SHA-256 stored in parts", () => {
  const multi: ReplicationRule = { ...rule, id: "reconcile-multipart", prefix: "rm/", as: "bk/rm/" };

  it("is queued by reconcile and shown as differing when its replica was not copied from it, even with the same bytes", async () => {
    const parts = [filled(5 * MiB, 1), filled(100, 2)];
    const same = await multipartWithoutSha("rm/same-bytes.bin", parts);
    await multipartWithoutSha("rm/other-bytes.bin", parts);
    expect(same.etag).toMatch(/-2$/);
    const whole = new Uint8Array(5 * MiB + 100);
    whole.set(parts[0]!, 0);
    whole.set(parts[1]!, 5 * MiB);
    const other = whole.slice();
    other[7] = 9;
    expect((await peer2("/api/files/bk/rm/same-bytes.bin", { method: "PUT", body: whole })).status).toBe(201);
    expect((await peer2("/api/files/bk/rm/other-bytes.bin", { method: "PUT", body: other })).status).toBe(201);

    const sent: ReplicationMessage[] = [];
    const watched = { ...(env as unknown as PeerEnv), REPLICATION: recordingQueue(sent) } as PeerEnv;
    // Nothing says the replicas hold the source's bytes (no SHA-256 here, no etag in common): both are delivered…
    expect(await reconcileRule(watched, multi)).toEqual({ rule: multi.id, puts: 2, deletes: 0, identical: 0 });
    expect(sent.map((m) => m.name)).toEqual(["rm/other-bytes.bin", "rm/same-bytes.bin"]);
    // …and the per-file state says what reconcile does: not "current" on the size alone.
    const page = await replicaPage(watched, multi, "rm/");
    expect(page.files).toEqual([
      { name: "rm/other-bytes.bin", state: "differs" },
      { name: "rm/same-bytes.bin", state: "differs" },
    ]);
  });

  it("is the same file as a replica pulled from it: the pull records the source's etag, and the one rule says so", async () => {
    // peer2 holds a file in parts and serves it without its SHA-256 (`__nosha`): a source with none.
    const created = (await (await peer2("/api/uploads", { method: "POST", body: JSON.stringify({ name: "src/parts.bin" }) })).json()) as {
      uploadId: string;
    };
    const parts = [];
    for (const [n, body] of [filled(5 * MiB, 3), filled(10, 4)].entries()) {
      const res = await peer2(`/api/uploads/${created.uploadId}/parts/${n + 1}?name=src/parts.bin`, { method: "PUT", body });
      expect(res.status).toBe(200);
      parts.push(await res.json());
    }
    const done = await peer2(`/api/uploads/${created.uploadId}/complete?name=src/parts.bin`, {
      method: "POST",
      body: JSON.stringify({ parts }),
    });
    expect(done.status).toBe(201);
    const source = (await done.json()) as FileMeta;
    expect(source.etag).toMatch(/-2$/);
    const link = (await (await peer2("/api/files/src/parts.bin/share", { method: "POST", body: "{}" })).json()) as { url: string };
    const from = new URL(link.url);
    from.searchParams.set("__nosha", "1");

    const pulled = await call("/api/files/rp/parts.bin/pull", { method: "POST", body: JSON.stringify({ from: from.toString() }) });
    expect(pulled.status).toBe(201);
    expect(await pulled.json()).toMatchObject({ name: "rp/parts.bin", sourceEtag: source.etag });
    const listed = (await (await call("/api/files?prefix=rp/")).json()) as { files: FileMeta[] };
    const replica = listed.files[0]!;
    expect(replica).toMatchObject({ name: "rp/parts.bin", size: source.size, sha256: source.sha256, sourceEtag: source.etag });
    expect(replica.etag).not.toBe(source.etag);

    const withoutSha = { ...source, sha256: null };
    expect(sameContent(withoutSha, replica)).toBe(true);
    // Another version of the source (another etag) is not.
    expect(sameContent({ ...withoutSha, etag: `${"0".repeat(32)}-2` }, replica)).toBe(false);
    // A SHA-256 known on both sides decides alone: a replica recorded as a copy but holding other bytes differs.
    expect(sameContent({ ...source, sha256: "f".repeat(64) }, replica)).toBe(false);
    // A rule the other way (this peer → peer2): the copy is the source now, and peer2's file, which it was pulled from, its replica.
    expect(sameContent({ ...replica, sha256: null }, withoutSha)).toBe(true);
    expect(sameContent({ ...replica, sha256: null }, { ...withoutSha, etag: `${"0".repeat(32)}-2` })).toBe(false);
  });
});
