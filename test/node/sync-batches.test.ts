/**
 * `syncPeers`' batches of small files on two real peers with a small storage quota (2 MiB):
 * one file a batch cannot carry fails alone, and a batch the quota refuses whole goes file by
 * file (a replace one at a time needs room for one new version, a batch for all of them).
 * The large e2e network is in e2e-sync.test.ts.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FetchLike, PeerClient, type Reply, applySync, planSync, syncPeers } from "../../src/client/index";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

let net: TestNetwork;

/** `size` bytes that differ with `seed`. */
function bytesOf(seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let block = createHash("sha256").update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    out.set(block.subarray(0, Math.min(block.length, size - at)), at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

/** A client of `peer` whose every request is recorded, and whose answers `rewrite` may change. */
function client(peer: string, rewrite?: (path: string, reply: Reply) => Promise<Reply>): { client: PeerClient; calls: string[] } {
  const { url, token } = net.peers.find((p) => p.name === peer)!;
  const calls: string[] = [];
  const fetch: FetchLike = async (target, init) => {
    calls.push(`${init.method} ${target.pathname}`);
    const reply = (await globalThis.fetch(target, init)) as Reply;
    return rewrite ? rewrite(`${init.method} ${target.pathname}`, reply) : reply;
  };
  return { client: new PeerClient({ url, token, name: peer, fetch }), calls };
}

beforeAll(async () => {
  net = await startNetwork({ peers: 2, vars: { STORAGE_LIMIT_MB: "2" }, args: ["--no-restart"] });
}, 120_000);

afterAll(async () => {
  await net?.stop();
  await removeTemp(net?.dir ?? "");
});

describe("sync's batches", () => {
  it("fails only the file A signed no link for; its batch's other files arrive", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `odd/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 100));
    // A answers the links of a batch without the one for f3 (as for a key it lists but cannot sign).
    const a = client("peer1", async (path, reply) => {
      if (path !== "POST /api/links") return reply;
      const body = (await reply.json()) as { links: Array<{ name: string }>; missing: string[] };
      body.links = body.links.filter((l) => l.name !== "odd/f3.txt");
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } }) as Reply;
    });
    const report = await syncPeers(a.client, net.client("peer2"), { prefix: "odd", concurrency: 1 });
    expect(report.plan.copies).toHaveLength(6);
    expect(report.failed.map((f) => [f.action.path, f.code])).toEqual([["f3.txt", "bad_response"]]);
    expect(report).toMatchObject({ copied: 5, copiedVia: { pull: 5 } });
    for (const name of names) expect(Boolean(await net.client("peer2").headFile(name))).toBe(name !== "odd/f3.txt");
  });

  it("pulls once more, in a batch of their own, the files B could not fetch from A (upstream_failed); the rest are not sent again", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `flaky/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 100));
    // The first link A signs for f2 reaches B with a broken signature: A refuses it, so B's pull of
    // that item fails as a source that cannot be fetched does (a restart, a 5xx, a break).
    let broken = 0;
    const a = client("peer1", async (path, reply) => {
      if (path !== "POST /api/links") return reply;
      const body = (await reply.json()) as { links: Array<{ name: string; url: string }> };
      for (const link of body.links) {
        if (link.name === "flaky/f2.txt" && broken++ === 0) link.url = link.url.replace(/sig=[^&]*/, "sig=bad");
      }
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } }) as Reply;
    });
    const b = client("peer2");
    // One at a time: three batches of two; f2's batch fails f2 alone.
    const report = await syncPeers(a.client, b.client, { prefix: "flaky", concurrency: 1 });
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 6, copiedVia: { pull: 6 } });
    expect(broken).toBe(2);
    // Three batches and f2's second try; no single pull (no share link registered on A).
    expect(b.calls.filter((c) => c === "POST /api/pulls")).toHaveLength(4);
    expect(b.calls.filter((c) => /^POST \/api\/files\/.+\/pull$/.test(c))).toEqual([]);
    expect(await net.client("peer1").listShares()).toEqual([]);
    for (const name of names) {
      expect((await net.client("peer2").headFile(name))?.sha256).toBe(createHash("sha256").update(bytesOf(name, 100)).digest("hex"));
    }
  });

  it("does not try again a batch whose every file B could not fetch from A (A unreachable from B)", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `down/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 100));
    const a = client("peer1", async (path, reply) => {
      if (path !== "POST /api/links") return reply;
      const body = (await reply.json()) as { links: Array<{ name: string; url: string }> };
      for (const link of body.links) link.url = link.url.replace(/sig=[^&]*/, "sig=bad");
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } }) as Reply;
    });
    const b = client("peer2");
    const report = await syncPeers(a.client, b.client, { prefix: "down", concurrency: 1 });
    expect(report.failed.map((f) => f.code)).toEqual(Array(6).fill("upstream_failed"));
    expect(b.calls.filter((c) => c === "POST /api/pulls")).toHaveLength(3);
    for (const name of names) expect(await net.client("peer2").headFile(name)).toBeNull();
  });

  it("sends a batch the quota refuses (413) file by file, so replaces that fit one at a time arrive", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `full/f${i}.bin`);
    // B: old versions of the six files (1.2 MB) and a filler (0.6 MB) — 1.8 MB of 2 MiB: a batch
    // of two replaces needs 0.4 MB more (413), one replace 0.2 MB (fits).
    for (const name of names) {
      await net.client("peer1").putFile(name, bytesOf(`new ${name}`, 200_000));
      await net.client("peer2").putFile(name, bytesOf(`old ${name}`, 200_000));
    }
    await net.client("peer2").putFile("filler.bin", bytesOf("filler", 600_000));
    const b = client("peer2");
    const report = await syncPeers(net.client("peer1"), b.client, { prefix: "full", concurrency: 1 });
    expect(report.plan.copies).toHaveLength(6);
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 6, copiedVia: { pull: 6 } });
    // The batch was tried first, then each file alone.
    expect(b.calls.filter((c) => c === "POST /api/pulls").length).toBeGreaterThan(0);
    expect(b.calls.filter((c) => c.startsWith("POST /api/files/")).length).toBe(6);
    for (const name of names) {
      const meta = await net.client("peer2").headFile(name);
      expect(meta?.sha256).toBe(
        createHash("sha256")
          .update(bytesOf(`new ${name}`, 200_000))
          .digest("hex"),
      );
    }
  });

  it.each([404, 405])("sends every file by single pulls when B answers %i to the batch route (an older peer)", async (status) => {
    const names = Array.from({ length: 6 }, (_, i) => `older${status}/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 1000));
    // B as a peer from before POST /api/pulls: its router knows no such route (the request never reaches B).
    const { url, token } = net.peers.find((p) => p.name === "peer2")!;
    const calls: string[] = [];
    const olderFetch: FetchLike = async (target, init) => {
      const call = `${init.method} ${target.pathname}`;
      calls.push(call);
      if (call !== "POST /api/pulls") return (await globalThis.fetch(target, init)) as Reply;
      const code = status === 404 ? "not_found" : "method_not_allowed";
      const body = JSON.stringify({ error: { code, message: "No such route." } });
      return new Response(body, { status, headers: { "content-type": "application/json" } }) as Reply;
    };
    const b = { client: new PeerClient({ url, token, name: "peer2", fetch: olderFetch }), calls };
    // One at a time: batches of two, so the first batch's answer decides for the two after it.
    const report = await syncPeers(net.client("peer1"), b.client, { prefix: `older${status}`, concurrency: 1 });
    expect(report.plan.copies).toHaveLength(6);
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 6, copiedVia: { pull: 6 } });
    // The batch route was tried once; then every file went by its own pull, later batches included.
    expect(b.calls.filter((c) => c === "POST /api/pulls")).toHaveLength(1);
    expect(b.calls.filter((c) => /^POST \/api\/files\/.+\/pull$/.test(c)).sort()).toEqual(
      names.map((name) => `POST /api/files/${name}/pull`).sort(),
    );
    for (const name of names) {
      const meta = await net.client("peer2").headFile(name);
      expect(meta?.sha256).toBe(createHash("sha256").update(bytesOf(name, 1000)).digest("hex"));
    }
  });

  it("relays small files in batches: a GET on A for each, one POST /api/puts on B per batch, each verified", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `relayed/ü${i}/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 100 * (names.indexOf(name) + 1)));
    const a = client("peer1");
    const b = client("peer2");
    const report = await syncPeers(a.client, b.client, { prefix: "relayed", mode: "relay", concurrency: 2 });
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 12, copiedVia: { relay: 12, pull: 0 } });
    // Batches of two (12 files, 2 at once, 3 batches each), never a PUT of one file.
    expect(b.calls.filter((c) => c === "POST /api/puts")).toHaveLength(6);
    expect(b.calls.filter((c) => c.startsWith("PUT "))).toEqual([]);
    expect(a.calls.filter((c) => c.startsWith("GET /api/files/"))).toHaveLength(12);
    for (const [i, name] of names.entries()) {
      const meta = await net.client("peer2").headFile(name);
      expect(meta?.sha256).toBe(
        createHash("sha256")
          .update(bytesOf(name, 100 * (i + 1)))
          .digest("hex"),
      );
    }
    // Nothing left to do.
    const again = await syncPeers(net.client("peer1"), net.client("peer2"), { prefix: "relayed", mode: "relay" });
    expect(again).toMatchObject({ copied: 0, identical: 12 });
  });

  it("relays none of a batch's files that changed on A since the listing ('changed'), and the others", async () => {
    const names = Array.from({ length: 4 }, (_, i) => `moving/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 300));
    const plan = await planSync(net.client("peer1"), net.client("peer2"), { prefix: "moving" });
    // f1 changes after the listing: the relay must not send its new bytes as the listed version.
    await net.client("peer1").putFile("moving/f1.txt", bytesOf("changed", 300));
    const b = client("peer2");
    const report = await applySync(net.client("peer1"), b.client, plan, { mode: "relay", concurrency: 1 });
    expect(report.failed.map((f) => [f.action.path, f.code])).toEqual([["f1.txt", "changed"]]);
    expect(report).toMatchObject({ copied: 3, copiedVia: { relay: 3 } });
    expect(await net.client("peer2").headFile("moving/f1.txt")).toBeNull();
    expect(b.calls.filter((c) => c.startsWith("PUT "))).toEqual([]);
    // A rerun copies the new version.
    const rerun = await syncPeers(net.client("peer1"), net.client("peer2"), { prefix: "moving", mode: "relay" });
    expect(rerun).toMatchObject({ copied: 1, failed: [] });
    expect((await net.client("peer2").headFile("moving/f1.txt"))?.sha256).toBe(
      createHash("sha256").update(bytesOf("changed", 300)).digest("hex"),
    );
  });

  // Batches of two: an older peer (404) is asked once, a batch refused whole (400) each time.
  it.each([
    [404, "not_found", 1],
    [400, "bad_request", 2],
  ])("relays file by file when B answers %i to the batch put (an older peer, a batch refused whole)", async (status, code, asked) => {
    const names = Array.from({ length: 4 }, (_, i) => `olderput${status}/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 500));
    const { url, token } = net.peers.find((p) => p.name === "peer2")!;
    const calls: string[] = [];
    const olderFetch: FetchLike = async (target, init) => {
      const call = `${init.method} ${target.pathname}`;
      calls.push(call);
      if (call !== "POST /api/puts") return (await globalThis.fetch(target, init)) as Reply;
      const body = JSON.stringify({ error: { code, message: "Refused." } });
      return new Response(body, { status, headers: { "content-type": "application/json" } }) as Reply;
    };
    const b = new PeerClient({ url, token, name: "peer2", fetch: olderFetch });
    const report = await syncPeers(net.client("peer1"), b, { prefix: `olderput${status}`, mode: "relay", concurrency: 1 });
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 4, copiedVia: { relay: 4 } });
    expect(calls.filter((c) => c === "POST /api/puts")).toHaveLength(asked);
    expect(calls.filter((c) => c.startsWith("PUT /api/files/")).sort()).toEqual(names.map((name) => `PUT /api/files/${name}`).sort());
  });

  it("relays a batch the quota refuses (413) file by file, so replaces that fit one at a time arrive", async () => {
    const names = Array.from({ length: 4 }, (_, i) => `fullrelay/f${i}.bin`);
    // B emptied of what the earlier tests left, then: old versions (0.8 MB) and a filler that
    // leaves 300 kB — room for one 200 kB replace at a time, not for a batch of two.
    const peer2 = net.client("peer2");
    for await (const file of peer2.allFiles("")) await peer2.deleteFile(file.name);
    for (const name of names) {
      await net.client("peer1").putFile(name, bytesOf(`new ${name}`, 200_000));
      await net.client("peer2").putFile(name, bytesOf(`old ${name}`, 200_000));
    }
    const room = 2 * 1024 * 1024 - (await peer2.stats()).files.bytes;
    await peer2.putFile("fullrelay-filler.bin", bytesOf("filler", room - 300_000));
    const b = client("peer2");
    const report = await syncPeers(net.client("peer1"), b.client, { prefix: "fullrelay", mode: "relay", concurrency: 1 });
    expect(report.failed).toEqual([]);
    expect(report).toMatchObject({ copied: 4, copiedVia: { relay: 4 } });
    expect(b.calls.filter((c) => c === "POST /api/puts").length).toBeGreaterThan(0);
    expect(b.calls.filter((c) => c.startsWith("PUT /api/files/")).length).toBe(4);
    for (const name of names) {
      expect((await net.client("peer2").headFile(name))?.sha256).toBe(
        createHash("sha256")
          .update(bytesOf(`new ${name}`, 200_000))
          .digest("hex"),
      );
    }
    await peer2.deleteFile("fullrelay-filler.bin");
  });

  it("deletes a relayed file whose stored SHA-256 B reports as other than the one sent, and fails it (verify_failed)", async () => {
    const names = Array.from({ length: 3 }, (_, i) => `misreport/f${i}.txt`);
    for (const name of names) await net.client("peer1").putFile(name, bytesOf(name, 700));
    // B's answer claims another digest for f1 than the one it was sent and checked.
    const b = client("peer2", async (path, reply) => {
      if (path !== "POST /api/puts") return reply;
      const body = (await reply.json()) as { results: Array<{ name: string; ok: boolean; file?: { sha256: string } }> };
      for (const r of body.results) if (r.name === "misreport/f1.txt" && r.file) r.file.sha256 = "0".repeat(64);
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } }) as Reply;
    });
    const report = await syncPeers(net.client("peer1"), b.client, { prefix: "misreport", mode: "relay", concurrency: 1 });
    expect(report.failed.map((f) => [f.action.path, f.code])).toEqual([["f1.txt", "verify_failed"]]);
    expect(report).toMatchObject({ copied: 2 });
    expect(await net.client("peer2").headFile("misreport/f1.txt")).toBeNull();
    expect(await net.client("peer2").headFile("misreport/f0.txt")).not.toBeNull();
  });
});
