import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerClient, ReplicationRuleStatus } from "../../src/client/index";
import { type TestNetwork, cli, makeTemp, removeTemp, startNetwork, waitFor, workerdPid } from "../support/network";

/**
 * Replication on a real network of two peers under Miniflare's queues: the runner fires no
 * schedule here (`--reconcile-every 0`), so what arrives was delivered by the queue, except
 * where a test reconciles on purpose.
 */
let net: TestNetwork;
let peer1: PeerClient;
let peer2: PeerClient;

/** The parts of a file peer1 holds with no SHA-256 (put in its bucket before it starts, as by another tool). */
const NO_SHA_PARTS = [new Uint8Array(randomBytes(5 * 1024 * 1024)), new Uint8Array(randomBytes(1000))];

/** Stores `parts` in `peer`'s persisted bucket under `dir` as one multipart object: no shaRef, no SHA-256. */
async function storeInParts(dir: string, peer: string, name: string, parts: Uint8Array[]): Promise<void> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null); } }",
    defaultPersistRoot: join(dir, peer),
    r2Persist: true,
    r2Buckets: { FILES: `edgepeer-${peer}` },
  });
  try {
    const bucket = await mf.getR2Bucket("FILES");
    const upload = await bucket.createMultipartUpload(name);
    const uploaded = [];
    for (const [i, part] of parts.entries()) uploaded.push(await upload.uploadPart(i + 1, part));
    await upload.complete(uploaded);
  } finally {
    await mf.dispose();
  }
}

let dir: string;

beforeAll(async () => {
  dir = await makeTemp("replication");
  await storeInParts(dir, "peer1", "nosha/parts.bin", NO_SHA_PARTS);
  net = await startNetwork({ peers: 2, dir, args: ["--reconcile-every", "0"] });
  // Multipart from 5 MiB: a few files of 11 MiB go up in three parts.
  peer1 = net.client("peer1", { multipartThreshold: 5 * 1024 * 1024 });
  peer2 = net.client("peer2", { multipartThreshold: 5 * 1024 * 1024 });
});

afterAll(async () => {
  await net?.stop();
  if (dir) await removeTemp(dir);
});

const rule = async (client: PeerClient, id: string) => {
  const found = (await client.replicationRules()).find((r) => r.id === id);
  if (!found) throw new Error(`no rule ${id}`);
  return found;
};

/** Waits until every queued message of the rule is delivered (or dead-lettered). */
async function settled(client: PeerClient, id: string, limitMs = 90_000): Promise<ReplicationRuleStatus> {
  await waitFor(async () => (await rule(client, id)).pending === 0, limitMs, `rule ${id} to deliver everything`);
  return rule(client, id);
}

/** name (relative to `prefix`) → SHA-256 of every file under `prefix`. */
async function tree(client: PeerClient, prefix: string): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for await (const f of client.allFiles(prefix)) out.set(f.name.slice(prefix.length), f.sha256);
  return out;
}

const put = (client: PeerClient, name: string, bytes: Uint8Array<ArrayBuffer>) => client.upload(name, new Blob([bytes]));

describe("replication", () => {
  it("delivers 50 writes (some multipart) byte-identical and mirrors 5 deletes; nothing outside the prefix", async () => {
    const add = await cli([
      "--network",
      net.file,
      "--peer",
      "peer1",
      "replicate",
      "add",
      "--id",
      "photos",
      "--prefix",
      "photos/",
      "--to",
      "peer2",
      "--as",
      "backup/peer1/photos/",
    ]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);

    const names = Array.from({ length: 50 }, (_, i) => `photos/${i % 3 === 0 ? "trip/" : ""}${i % 7 === 0 ? "été café" : "img"} ${i}.bin`);
    for (const [i, name] of names.entries()) {
      const size = i < 3 ? 11 * 1024 * 1024 : 1 + ((i * 997) % 8192);
      await put(peer1, name, new Uint8Array(randomBytes(size)));
    }
    await put(peer1, "photos2/not-mine.bin", new Uint8Array(randomBytes(10)));
    for (const name of names.slice(10, 15)) await peer1.deleteFile(name);

    const status = await settled(peer1, "photos");
    expect(status.failed).toBe(0);
    const source = await tree(peer1, "photos/");
    expect(source.size).toBe(45);
    expect(await tree(peer2, "backup/peer1/photos/")).toEqual(source);
    expect((await tree(peer2, "backup/peer1/photos2")).size).toBe(0);

    const list = await cli(["--network", net.file, "--peer", "peer1", "replicate", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout.toString()).toMatch(/^photos\tphotos\/ → peer2:backup\/peer1\/photos\/ \(deletes mirror\)\tpending 0, failed 0/m);
  });

  it("keeps replicas when the rule says keep", async () => {
    await peer1.putReplicationRule("docs", {
      prefix: "docs/",
      to: "peer2",
      as: "kept/docs/",
      token: net.peers[1]?.token ?? "",
      deletes: "keep",
    });
    for (let i = 0; i < 5; i++) await put(peer1, `docs/${i}.txt`, new Uint8Array(randomBytes(100 + i)));
    await settled(peer1, "docs");
    await peer1.deleteFile("docs/0.txt");
    await peer1.deleteFile("docs/1.txt");
    await settled(peer1, "docs");
    expect((await tree(peer1, "docs/")).size).toBe(3);
    expect((await tree(peer2, "kept/docs/")).size).toBe(5);
  });

  it("never echoes between two peers replicating one prefix to each other (100 writes)", async () => {
    await peer1.putReplicationRule("both", { prefix: "shared/", to: "peer2", token: net.peers[1]?.token ?? "" });
    await peer2.putReplicationRule("both", { prefix: "shared/", to: "peer1", token: net.peers[0]?.token ?? "" });
    const written = new Map<string, string>();
    for (let i = 0; i < 100; i++) {
      const client = i % 2 ? peer2 : peer1;
      const meta = await put(client, `shared/${i}.txt`, new Uint8Array(randomBytes(64)));
      written.set(`${i}.txt`, meta.sha256 ?? "");
    }
    const [one, two] = [await settled(peer1, "both"), await settled(peer2, "both")];
    // Each peer delivered exactly its own 50 writes, and not one replica went back.
    expect(one.delivered).toBe(50);
    expect(two.delivered).toBe(50);
    const first = await tree(peer1, "shared/");
    expect(first).toEqual(new Map(written));
    expect(await tree(peer2, "shared/")).toEqual(first);
    // Quiet afterwards: nothing queued by a late echo.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rule(peer1, "both")).pending + (await rule(peer2, "both")).pending).toBe(0);
    expect((await rule(peer1, "both")).delivered).toBe(50);
  });

  it("catches up after the destination was down: retried deliveries and a reconcile, nothing duplicated or older", async () => {
    const port = Number(new URL(net.peers[1]?.url ?? "").port);
    process.kill(workerdPid(port), "SIGKILL");
    const written = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const meta = await put(peer1, `photos/late/${i}.bin`, new Uint8Array(randomBytes(2048)));
      written.set(`late/${i}.bin`, meta.sha256 ?? "");
    }
    // A file written twice while the destination is away: only the newer may arrive.
    await put(peer1, "photos/late/0.bin", new Uint8Array(randomBytes(3000))).then((m) => written.set("late/0.bin", m.sha256 ?? ""));
    // The runner brings the peer back; deliveries retry with backoff; reconcile queues what is left.
    await waitFor(
      async () =>
        await peer2
          .health()
          .then(() => true)
          .catch(() => false),
      60_000,
      "peer2 to be back",
    );
    await peer1.reconcileReplication("photos");
    await settled(peer1, "photos", 120_000);
    const replica = await tree(peer2, "backup/peer1/photos/late/");
    expect(replica).toEqual(new Map([...written].map(([k, v]) => [k.slice("late/".length), v])));
  });

  it("delivers a file it holds no SHA-256 for once: a later reconcile does not queue it again, and its copy shows current", async () => {
    const [held] = (await peer1.listFiles({ prefix: "nosha/" })).files;
    expect(held).toMatchObject({ name: "nosha/parts.bin", sha256: null, etag: expect.stringMatching(/-2$/) });
    await peer1.putReplicationRule("nosha", { prefix: "nosha/", to: "peer2", as: "copies/nosha/", token: net.peers[1]?.token ?? "" });
    await put(peer1, "nosha/marker.txt", new Uint8Array(randomBytes(100)));
    await settled(peer1, "nosha");
    // The file was there before the rule: a reconcile delivers it.
    await peer1.reconcileReplication("nosha");
    await waitFor(async () => (await peer2.headFile("copies/nosha/parts.bin")) !== null, 60_000, "the copy to arrive");
    const first = await settled(peer1, "nosha");
    expect(Buffer.from(await peer2.getFileBytes("copies/nosha/parts.bin")).equals(Buffer.concat(NO_SHA_PARTS))).toBe(true);
    expect((await peer1.replicaStates("nosha", { prefix: "nosha/" })).files).toEqual([
      { name: "nosha/marker.txt", state: "current" },
      { name: "nosha/parts.bin", state: "current" },
    ]);

    // Nothing changed on either side but the marker's copy, deleted there: the next reconcile
    // queues that one (its arrival shows the reconcile ran) and not the file without SHA-256.
    await peer2.deleteFile("copies/nosha/marker.txt");
    await peer1.reconcileReplication("nosha");
    await waitFor(
      async () => {
        const now = await rule(peer1, "nosha");
        return now.pending === 0 && now.delivered > first.delivered && (await peer2.headFile("copies/nosha/marker.txt")) !== null;
      },
      60_000,
      "the marker to come back",
    );
    const second = await rule(peer1, "nosha");
    expect(second.delivered - first.delivered).toBe(1);
    expect((await peer1.replicaStates("nosha", { prefix: "nosha/" })).files.map((f) => f.state)).toEqual(["current", "current"]);
    await peer1.deleteReplicationRule("nosha");
  });

  it("with a scoped destination token: delivers inside its prefix; once revoked, the status says why and the source keeps everything", async () => {
    const minted = await peer2.createToken({ ops: ["read", "write", "delete"], prefix: "scoped/", label: "backup from peer1" });
    // A token of another peer, or one peer2 has never seen, is refused when the rule is added.
    await expect(
      peer1.putReplicationRule("bad", { prefix: "music/", to: "peer2", as: "scoped/music/", token: "not-a-token" }),
    ).rejects.toMatchObject({
      status: 400,
    });
    await peer1.putReplicationRule("music", { prefix: "music/", to: "peer2", as: "scoped/music/", token: minted.token });
    const first = await put(peer1, "music/a.ogg", new Uint8Array(randomBytes(4096)));
    await settled(peer1, "music");
    expect(await tree(peer2, "scoped/music/")).toEqual(new Map([["a.ogg", first.sha256]]));

    await peer2.revokeToken(minted.id);
    const second = await put(peer1, "music/b.ogg", new Uint8Array(randomBytes(4096)));
    await waitFor(async () => /401|revoked|token/i.test((await rule(peer1, "music")).lastError ?? ""), 60_000, "the status to say why");
    const status = await rule(peer1, "music");
    expect(status.lastError).toMatch(/b\.ogg/);
    expect(status.pending).toBeGreaterThan(0);
    // Nothing on the source is touched; nothing more reached the destination.
    expect(await tree(peer1, "music/")).toEqual(
      new Map([
        ["a.ogg", first.sha256],
        ["b.ogg", second.sha256],
      ]),
    );
    expect(await tree(peer2, "scoped/music/")).toEqual(new Map([["a.ogg", first.sha256]]));
    await peer1.deleteReplicationRule("music");
  });
});
