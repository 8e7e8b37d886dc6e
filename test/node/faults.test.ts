/**
 * Faults on real processes: the network runner, one workerd per peer, the real local R2 and
 * KV. A client that breaks off an upload, a source peer that dies mid-pull, an abandoned
 * multipart upload, and the network killed (SIGKILL) or stopped (Ctrl-C) in the middle of a
 * workload: every acknowledged write survives byte for byte, nothing half-written appears.
 */
import { openAsBlob } from "node:fs";
import { request as httpRequest } from "node:http";
import { type Server, type Socket, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PeerClient, PeerError, filePath } from "../../src/client/index";
import {
  type TestNetwork,
  bytesUnder,
  makeTemp,
  removeTemp,
  seededFile,
  startNetwork,
  waitFor,
  workerdPid,
  seededBytes as seeded,
  sha256Hex as sha256,
} from "../support/network";

const MiB = 1024 * 1024;

/** The rejection of `promise` as a PeerError (fails the test if it resolved). */
async function peerError(promise: Promise<unknown>): Promise<PeerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PeerError) return err;
    throw err;
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** Asserts `name` on `client` is exactly `bytes`: HEAD, listing and a full GET agree. */
async function expectFile(client: PeerClient, name: string, bytes: Buffer): Promise<void> {
  const head = await client.headFile(name);
  expect(head, `${name} should exist`).not.toBeNull();
  expect(head?.size).toBe(bytes.length);
  expect(head?.sha256).toBe(sha256(bytes));
  const listed = (await client.listFiles({ prefix: name })).files.find((f) => f.name === name);
  expect(listed?.size).toBe(bytes.length);
  expect(listed?.sha256).toBe(sha256(bytes));
  const got = Buffer.from(await client.getFileBytes(name));
  expect(got.length).toBe(bytes.length);
  expect(got.equals(bytes)).toBe(true);
}

/** Asserts no file `name` exists on `client`: HEAD 404, GET 404, absent from the listing. */
async function expectNoFile(client: PeerClient, name: string): Promise<void> {
  expect(await client.headFile(name)).toBeNull();
  expect((await peerError(client.getFileBytes(name))).status).toBe(404);
  expect((await client.listFiles({ prefix: name })).files.map((f) => f.name)).not.toContain(name);
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  // Last registered, first undone; every step runs even if one fails.
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

let tmp: string;
beforeAll(async () => {
  tmp = await makeTemp("faults");
  cleanups.push(() => removeTemp(tmp));
});

describe("faults on a network of two peers (each its own workerd)", () => {
  let net: TestNetwork;
  let peer1: PeerClient;
  let peer2: PeerClient;
  /** Every file that must be on peer1 at the end, and nothing else. */
  const expected = new Map<string, Buffer>();

  beforeAll(async () => {
    // Killed peers stay down here: the tests below put a stand-in on a dead peer's port.
    net = await startNetwork({ peers: 2, args: ["--no-restart"] });
    cleanups.push(async () => {
      await net.stop();
      await removeTemp(net.dir);
    });
    peer1 = net.client("peer1");
    peer2 = net.client("peer2");
  });

  type Cut = "destroy" | "half-close" | "client-abort";

  /**
   * Starts a real PUT of `body` with its full Content-Length, sends the first `sent` bytes,
   * then breaks off: `destroy` drops the connection, `half-close` ends the socket (the peer
   * sees the body end short) and waits for whatever answer comes, `client-abort` is the
   * typed client's AbortSignal. Resolves to the HTTP status if one arrived, else 0.
   */
  async function brokenUpload(
    name: string,
    body: Buffer,
    sent: number,
    cut: Cut,
    withSha: boolean,
  ): Promise<{ status: number; text: string }> {
    const peer = net.peers[0]!;
    if (cut === "client-abort") {
      const stop = new AbortController();
      let given = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (given >= sent) {
            // Everything we meant to send has been handed to fetch: now abort, mid-body.
            stop.abort();
            return new Promise(() => undefined);
          }
          const chunk = body.subarray(given, Math.min(sent, given + 256 * 1024));
          given += chunk.length;
          controller.enqueue(new Uint8Array(chunk));
          return undefined;
        },
      });
      const err = await peerError(
        peer1.putFile(name, stream, { size: body.length, signal: stop.signal, ...(withSha && { sha256: sha256(body) }) }),
      );
      expect(err.code).toBe("aborted");
      return { status: 0, text: "" };
    }
    const url = new URL(peer.url);
    const headers: Record<string, string> = {
      authorization: `Bearer ${peer.token}`,
      "content-length": String(body.length),
      "content-type": "application/octet-stream",
    };
    if (withSha) headers["x-content-sha256"] = sha256(body);
    return new Promise((done, fail) => {
      const req = httpRequest({ host: url.hostname, port: url.port, method: "PUT", path: filePath(name), headers });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => done({ status: res.statusCode ?? 0, text }));
        res.on("error", () => done({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", () => done({ status: 0, text: "" }));
      req.write(body.subarray(0, sent), (err) => {
        if (err) return fail(err);
        if (cut === "destroy") {
          req.destroy();
        } else {
          req.socket?.end();
        }
      });
    });
  }

  const cuts: Cut[] = ["destroy", "half-close", "client-abort"];
  for (const cut of cuts) {
    for (const withSha of [true, false]) {
      it(`an upload broken off after 1 MiB (${cut}, ${withSha ? "with" : "without"} X-Content-SHA256) stores nothing and keeps the previous version`, async () => {
        const tag = `${cut}-${withSha ? "sha" : "nosha"}`;
        const fresh = `aborted/${tag}/fresh.bin`;
        const kept = `aborted/${tag}/kept.bin`;
        const previous = seeded(2 * MiB + 17, `prev-${tag}`);
        await peer1.putFile(kept, previous, { sha256: sha256(previous) });
        expected.set(kept, previous);

        const replacement = seeded(4 * MiB + 5, `repl-${tag}`);
        for (const name of [fresh, kept]) {
          const answer = await brokenUpload(name, replacement, MiB, cut, withSha);
          // A half-closed client can still read the answer: the contract's 400, never a 500.
          if (cut === "half-close") {
            expect(answer.status, answer.text).toBe(400);
            expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "bad_request" } });
          }
        }
        await expectNoFile(peer1, fresh);
        await expectFile(peer1, kept, previous);
        // The peer is unharmed: the same names take a whole upload at once.
        const meta = await peer1.putFile(fresh, replacement, { sha256: sha256(replacement) });
        expect(meta.sha256).toBe(sha256(replacement));
        await expectFile(peer1, fresh, replacement);
        expected.set(fresh, replacement);
      });
    }
  }

  it("a memory write broken off mid-body stores nothing (400 to a half-closed client)", async () => {
    const peer = net.peers[0]!;
    const url = new URL(peer.url);
    const body = JSON.stringify({ value: { text: "x".repeat(200_000) } });
    const answer = await new Promise<{ status: number; text: string }>((done) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        method: "PUT",
        path: "/api/memory/broken-off",
        headers: { authorization: `Bearer ${peer.token}`, "content-type": "application/json", "content-length": String(body.length) },
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => done({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", () => done({ status: 0, text: "" }));
      req.write(body.slice(0, 50_000), () => req.socket?.end());
    });
    expect(answer.status, answer.text).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "bad_request" } });
    expect((await peerError(peer1.getMemory("broken-off"))).status).toBe(404);
  });

  it("an abandoned multipart upload can be aborted and leaves nothing; completing it afterwards is a 404", async () => {
    const name = "multipart/abandoned.bin";
    const kept = "multipart/kept.bin";
    const previous = seeded(MiB + 3, "mp-prev");
    await peer1.putFile(kept, previous);
    expected.set(kept, previous);

    for (const target of [name, kept]) {
      const { uploadId } = await peer1.createUpload(target);
      const part = seeded(5 * MiB, `mp-part-${target}`);
      const uploaded = await peer1.uploadPart(uploadId, target, 1, part, part.length);
      expect(uploaded.part).toBe(1);
      // Abandoned: parts uploaded, never completed — the file does not exist (or is unchanged).
      if (target === name) await expectNoFile(peer1, target);
      else await expectFile(peer1, target, previous);

      const aborted = await peer1.send("DELETE", `/api/uploads/${encodeURIComponent(uploadId)}`, { query: { name: target } });
      expect(aborted.status).toBe(204);
      const complete = await peerError(peer1.completeUpload(uploadId, target, [uploaded]));
      expect(complete.status).toBe(404);
      expect(complete.code).toBe("not_found");
      const late = await peerError(peer1.uploadPart(uploadId, target, 2, seeded(10, "late"), 10));
      expect(late.status).toBe(404);
      // Aborting twice is idempotent (R2's abort is): a 204 or a 404, never an error of the peer.
      const again = await peer1.send("DELETE", `/api/uploads/${encodeURIComponent(uploadId)}`, { query: { name: target }, accept: [404] });
      expect([204, 404]).toContain(again.status);
    }
    await expectNoFile(peer1, name);
    await expectFile(peer1, kept, previous);
  });

  it("a source peer killed mid-pull leaves the destination with its previous version, or nothing (502 upstream_failed)", async () => {
    // Big enough that the pull is still streaming when the source dies (about 1 s locally).
    const big = await seededFile(join(tmp, "big.bin"), 160 * MiB, "faults-big");
    await peer2.putFile("big.bin", await openAsBlob(big.path), { sha256: big.sha256 });
    const link = await peer2.shareFile("big.bin");

    const previous = seeded(MiB, "pull-prev");
    await peer1.putFile("pulled/kept.bin", previous, { sha256: sha256(previous) });
    expected.set("pulled/kept.bin", previous);

    const peer1Dir = join(net.dir, "peer1");
    const before = await bytesUnder(peer1Dir);
    const pulls = ["pulled/kept.bin", "pulled/fresh.bin"].map((name) =>
      peer1.pullFile(name, link.url).then(
        (meta) => ({ ok: true as const, meta }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
    );
    // Both transfers are flowing into peer1's bucket: now the source dies (SIGKILL, no goodbye).
    await waitFor(async () => (await bytesUnder(peer1Dir)) > before + 16 * MiB, 60_000, "the pulls to start streaming");
    process.kill(workerdPid(net.port + 1), "SIGKILL");

    for (const outcome of await Promise.all(pulls)) {
      expect(outcome.ok, "the pull finished before the source was killed: the file is too small for this machine").toBe(false);
      if (outcome.ok) continue;
      expect(outcome.err).toBeInstanceOf(PeerError);
      expect((outcome.err as PeerError).status).toBe(502);
      expect((outcome.err as PeerError).code).toBe("upstream_failed");
    }
    await expectFile(peer1, "pulled/kept.bin", previous);
    await expectNoFile(peer1, "pulled/fresh.bin");
    expect((await peer1.health()).peer).toBe("peer1");
  });

  it("a source that sends its headers and part of the body, then stops, leaves the previous version or nothing", async () => {
    // peer2 is dead (previous test); a stand-in on its address plays a source that breaks
    // mid-body. It is a known peer (PEERS), so peer1 fetches from it like from peer2.
    const port2 = net.port + 1;
    await waitFor(() => portBindable(port2), 30_000, "peer2's port to be free");
    const full = seeded(8 * MiB, "stand-in");
    type Mode = "reset" | "close" | "stall";
    let mode: Mode = "reset";
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      socket.once("data", () => {
        socket.write(
          "HTTP/1.1 200 OK\r\n" +
            `Content-Length: ${full.length}\r\n` +
            "Content-Type: application/octet-stream\r\n" +
            `X-Content-SHA256: ${sha256(full)}\r\n\r\n`,
        );
        socket.write(full.subarray(0, MiB), () => {
          if (mode === "reset") socket.resetAndDestroy();
          else if (mode === "close") socket.end();
          else setTimeout(() => socket.destroy(), 500); // stalls, then goes away
        });
      });
    });
    await new Promise<void>((ready) => server.listen(port2, "127.0.0.1", ready));
    cleanups.push(
      () =>
        new Promise((closed) => {
          for (const s of sockets) s.destroy();
          server.close(closed);
        }),
    );

    const link = `http://127.0.0.1:${port2}/api/files/big.bin?expires=9999999999&sig=00`;
    for (const m of ["reset", "close", "stall"] as const) {
      mode = m;
      const previous = seeded(300_000, `standin-prev-${m}`);
      const kept = `standin/${m}/kept.bin`;
      const fresh = `standin/${m}/fresh.bin`;
      await peer1.putFile(kept, previous);
      expected.set(kept, previous);
      for (const name of [kept, fresh]) {
        const err = await peerError(peer1.pullFile(name, link));
        expect(err.status, err.message).toBe(502);
        expect(err.code).toBe("upstream_failed");
      }
      await expectFile(peer1, kept, previous);
      await expectNoFile(peer1, fresh);
    }
  });

  it("at the end, peer1 holds exactly the files that were acknowledged, byte for byte", async () => {
    // One acknowledged upload and one broken off of its own, so that run alone it checks something.
    const acked = seeded(MiB + 3, "final-acked");
    await peer1.putFile("final/acked.bin", acked, { sha256: sha256(acked) });
    expected.set("final/acked.bin", acked);
    await brokenUpload("final/broken.bin", seeded(2 * MiB, "final-broken"), MiB, "destroy", false);
    const names: string[] = [];
    for await (const f of peer1.allFiles()) names.push(f.name);
    expect(names.sort()).toEqual([...expected.keys()].sort());
    for (const [name, bytes] of expected) await expectFile(peer1, name, bytes);
    // Broken clients and sources are answered as such (400, 502), never logged as the peer's own failure.
    expect(net.output()).not.toMatch(/unhandled error/i);
  });
});

/** True when `port` can be listened on at 127.0.0.1 right now. */
function portBindable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once("error", () => done(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => done(true)));
  });
}

describe("the network killed or stopped in the middle of a workload", () => {
  let net: TestNetwork;
  /** Every write that got a success answer, across both runs: name or key → content. */
  const files = new Map<string, Buffer>();
  const memory = new Map<string, unknown>();
  /** Every write that was attempted (acknowledged or not), to check what did land. */
  const triedFiles = new Map<string, Buffer>();
  const triedMemory = new Map<string, unknown>();

  beforeAll(async () => {
    net = await startNetwork({ peers: 1 });
    cleanups.push(async () => {
      await net.stop();
      for (const pid of workerdPids(net.port)) process.kill(pid, "SIGKILL");
      await removeTemp(net.dir);
    });
  });

  /** pids of any workerd still serving `port` (a SIGKILLed runner leaves its workerd behind). */
  function workerdPids(port: number): number[] {
    try {
      return [workerdPid(port)];
    } catch {
      return [];
    }
  }

  /**
   * Eight writers put files (16–400 KiB, half with X-Content-SHA256) and memory keys as fast
   * as they can; once `killAfter` writes were acknowledged, `kill` runs while they keep
   * writing. Each writer stops at its first failure (the network is gone).
   */
  async function workload(run: string, killAfter: number, kill: () => Promise<void>): Promise<{ acked: number; failed: number }> {
    const client = net.client("peer1");
    let acked = 0;
    let failed = 0;
    let killing: Promise<void> | undefined;
    let seq = 0;
    const writer = async (w: number) => {
      for (let i = 0; i < 500; i++) {
        const n = seq++;
        let write: () => Promise<void>;
        let acknowledge: () => void;
        if (n % 2 === 0) {
          const name = `${run}/w${w}/file-${n}.bin`;
          const bytes = seeded(16 * 1024 + ((n * 7919) % (384 * 1024)), `${run}-${n}`);
          triedFiles.set(name, bytes);
          write = async () => {
            const meta = await client.putFile(name, bytes, n % 4 === 0 ? { sha256: sha256(bytes) } : {});
            expect(meta.sha256).toBe(sha256(bytes));
          };
          acknowledge = () => files.set(name, bytes);
        } else {
          const key = `${run}:w${w}:key-${n}`;
          const value = { run, n, text: `value ${n} ✓`, list: [n, n * 2, { nested: `${run}-${n}` }] };
          triedMemory.set(key, value);
          write = () => client.setMemory(key, value);
          acknowledge = () => memory.set(key, value);
        }
        try {
          await write();
          acknowledge();
          acked++;
        } catch (err) {
          failed++;
          expect(err, String(err)).toBeInstanceOf(PeerError);
          const status = (err as PeerError).status;
          // The success status arrived but the stop cut its body off: the peer did acknowledge.
          if (status >= 200 && status < 300) acknowledge();
          // Otherwise only a lost connection is expected; any other answer is a finding.
          else expect(status, (err as PeerError).message).toBe(0);
          return;
        }
        if (acked >= killAfter && !killing) killing = kill();
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await killing;
    return { acked, failed };
  }

  /** Every acknowledged write is there, byte-identical; whatever else landed is whole. */
  async function expectAllAcknowledged(): Promise<void> {
    const client = net.client("peer1");
    for (const [name, bytes] of files) {
      const got = Buffer.from(await client.getFileBytes(name));
      expect(sha256(got), name).toBe(sha256(bytes));
    }
    for (const [key, value] of memory) expect(await client.getMemory(key), key).toEqual(value);
    // An unacknowledged write may or may not have landed — but never half of it.
    for await (const f of client.allFiles()) {
      const bytes = triedFiles.get(f.name);
      expect(bytes, `unexpected file ${f.name}`).toBeDefined();
      expect(f.size, f.name).toBe(bytes!.length);
      expect(sha256(await client.getFileBytes(f.name)), f.name).toBe(sha256(bytes!));
      // Acknowledged or not: a file sent without X-Content-SHA256 has its SHA-256 recorded
      // before R2 can commit it, so no crash leaves one whole but without it.
      expect(f.sha256, f.name).toBe(sha256(bytes!));
    }
    let cursor: string | undefined;
    do {
      const page = await client.listMemory({ cursor });
      for (const { key } of page.keys) expect(await client.getMemory(key), key).toEqual(triedMemory.get(key));
      cursor = page.cursor ?? undefined;
    } while (cursor);
  }

  async function restart(): Promise<void> {
    const tokens = net.peers.map((p) => p.token);
    await waitFor(() => portBindable(net.port), 30_000, "the port to be free");
    net = await startNetwork({ peers: 1, dir: net.dir, port: net.port });
    // The network file was reused: same tokens, so old clients keep working.
    expect(net.peers.map((p) => p.token)).toEqual(tokens);
  }

  it("SIGKILL of every process of the network loses no acknowledged write", async () => {
    const { acked, failed } = await workload("kill", 60, async () => {
      // A crash: the peer's workerd (which holds the storage) and the runner, no cleanup.
      process.kill(workerdPid(net.port), "SIGKILL");
      process.kill(net.child.pid!, "SIGKILL");
    });
    expect(acked).toBeGreaterThanOrEqual(60);
    expect(failed).toBeGreaterThan(0); // it really was mid-workload
    await net.stop();
    await restart();
    await expectAllAcknowledged();
  });

  it("Ctrl-C (SIGINT) mid-workload stops cleanly and loses no acknowledged write", async () => {
    let code: number | null | undefined;
    const { acked, failed } = await workload("sigint", 60, async () => {
      code = await net.stop();
    });
    expect(code).toBe(0);
    expect(net.output()).toMatch(/stopped; data and tokens are kept/);
    expect(acked).toBeGreaterThanOrEqual(60);
    expect(failed).toBeGreaterThan(0);
    await restart();
    // Both runs' writes, after two restarts of the same directory.
    await expectAllAcknowledged();
    const stats = await net.client("peer1").stats();
    expect(stats.files.count).toBeGreaterThanOrEqual([...files.keys()].length);
    expect(stats.memory.keys).toBeGreaterThanOrEqual(memory.size);
  });
});

describe("a runner killed alone", () => {
  it("leaves no workerd holding the ports: the next start in its directory stops them and serves the same data", async () => {
    let net = await startNetwork({ peers: 1 });
    const dir = net.dir;
    cleanups.push(async () => {
      await net.stop();
      await removeTemp(dir);
    });
    await net.client("peer1").putFile("kept.txt", "still here");
    const orphan = workerdPid(net.port);
    process.kill(net.child.pid!, "SIGKILL"); // the runner only: its workerd lives on
    await net.stop();
    expect(workerdPid(net.port)).toBe(orphan);

    net = await startNetwork({ peers: 1, dir, port: net.port });
    expect(net.output()).toMatch(/stopped 1 workerd process left by a runner that was killed/);
    expect(() => process.kill(orphan, 0)).toThrow();
    expect(new TextDecoder().decode(await net.client("peer1").getFileBytes("kept.txt"))).toBe("still here");
  });

  it("refuses to start a second network in a directory whose runner is alive", async () => {
    const net = await startNetwork({ peers: 1 });
    cleanups.push(async () => {
      await net.stop();
      await removeTemp(net.dir);
    });
    await expect(startNetwork({ peers: 1, dir: net.dir })).rejects.toThrow(/another network \(pid \d+\) is running from/);
    expect((await net.client("peer1").health()).peer).toBe("peer1");
  });
});
