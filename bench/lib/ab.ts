/**
 * The setup of the A/B benches that move files peer1 → peer2 beside their floor: two bare R2
 * workers (the floor) and two peers started at once in a temporary folder, a client for each,
 * and one `stop` that ends them all and removes the folder.
 */
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerClient } from "../../src/client/client";
import { benchClient } from "../workloads/files";
import { timed } from "./stats";
import type { BenchContext } from "./types";
import { type RunningWorker, startAll, startFloor, startPeers } from "./workers";

/** Two floors and two peers, running, with their clients. */
export interface AbPair {
  /** Where their data lives until `stop`. */
  dir: string;
  /** The floor workers' clients: bare GET and PUT of `/name`. */
  a: PeerClient;
  b: PeerClient;
  /** peer1 (the source) and peer2 (the destination). */
  p1: RunningWorker;
  p2: RunningWorker;
  source: PeerClient;
  dest: PeerClient;
  /** Stops the four workers and removes `dir`. */
  stop(): Promise<void>;
}

/**
 * Starts the floors `<prefix>-floor-a`/`-b` and the peers `<prefix>-peer1`/`-2` under a fresh
 * temporary folder `edgepeer-<label>-…`.
 */
export async function startAbPair(label: string, prefix = "ab"): Promise<AbPair> {
  const dir = await mkdtemp(join(tmpdir(), `edgepeer-${label}-`));
  const ctx = { quick: false } as BenchContext;
  const [fa, fb, peers] = (await startAll<RunningWorker | RunningWorker[]>([
    startFloor("r2", `${prefix}-floor-a`, dir),
    startFloor("r2", `${prefix}-floor-b`, dir),
    startPeers([`${prefix}-peer1`, `${prefix}-peer2`], dir),
  ])) as [RunningWorker, RunningWorker, RunningWorker[]];
  const [p1, p2] = peers as [RunningWorker, RunningWorker];
  return {
    dir,
    a: benchClient(ctx, fa.url, undefined, "floor-a"),
    b: benchClient(ctx, fb.url, undefined, "floor-b"),
    p1,
    p2,
    source: benchClient(ctx, p1.url, p1.token, `${prefix}-peer1`),
    dest: benchClient(ctx, p2.url, p2.token, `${prefix}-peer2`),
    async stop() {
      await Promise.allSettled([fa.stop(), fb.stop(), p1.stop(), p2.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The floor of one copy: a bare GET from `from` piped into a bare PUT of `to`, read to the end. */
export async function floorCopy(from: PeerClient, to: PeerClient, name: string, as: string): Promise<void> {
  const got = await from.send("GET", `/${name}`);
  const put = await to.send("PUT", `/${as}`, { body: got.body!, headers: { "content-length": got.headers.get("content-length")! } });
  await put.arrayBuffer();
}

/**
 * Stores `bench-key` in the peer's memory and mints a token scoped to `memory` under `bench-`:
 * the GET the scoped-token A/Bs time, with the peer token's and the scoped token's headers.
 */
export async function scopedMemoryGet(peer: { url: string; token?: string }) {
  const base = `${peer.url}/api`;
  const peerAuth = { authorization: `Bearer ${peer.token}` };
  await fetch(`${base}/memory/bench-key`, {
    method: "PUT",
    headers: peerAuth,
    body: JSON.stringify({ value: { n: 42, text: "x".repeat(200) } }),
  });
  const minted = await fetch(`${base}/tokens`, {
    method: "POST",
    headers: peerAuth,
    body: JSON.stringify({ ops: ["memory"], prefix: "bench-" }),
  });
  const { token } = (await minted.json()) as { token: string };
  return { url: `${base}/memory/bench-key`, peerAuth, scopedAuth: { authorization: `Bearer ${token}` } };
}

/** CPU seconds of this process and every process under it (the workerds): work done, whatever the machine's load. */
export function cpuSeconds(): number {
  const stats = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        const text = readFileSync(`/proc/${pid}/stat`, "utf8");
        const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
        return [{ pid: Number(pid), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }];
      } catch {
        return [];
      }
    });
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of stats) {
      if (!mine.has(s.pid) && mine.has(s.ppid)) {
        mine.add(s.pid);
        grew = true;
      }
    }
  }
  return stats.filter((s) => mine.has(s.pid)).reduce((n, s) => n + s.ticks, 0) / 100;
}

/** The wall time of `fn` and the CPU seconds the process tree spent meanwhile. */
export async function timedCpu(fn: () => Promise<unknown>): Promise<{ ms: number; cpu: number }> {
  const before = cpuSeconds();
  const t = await timed(fn);
  return { ms: t.ms, cpu: cpuSeconds() - before };
}

/** Runs `work(0..count-1)`, `concurrency` at a time. */
export async function inParallel(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
