/**
 * The setup of the A/B benches that move files peer1 → peer2 beside their floor: two bare R2
 * workers (the floor) and two peers started at once in a temporary folder, a client for each,
 * and one `stop` that ends them all and removes the folder.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerClient } from "../../src/client/client";
import { benchClient } from "../workloads/files";
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
