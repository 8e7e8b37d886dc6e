/**
 * A quick A/B of the scoped-token hot path: memory GET with the peer token against the same
 * GET with a scoped token (`memory`, prefix `bench-`), alternating, on one peer run as the
 * bench runs it. Prints each run and the median ratio (target ≥ 0.95).
 *
 *   npx tsx bench/scoped-ab.ts [--runs N] [--seconds S] [--connections C]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { scopedMemoryGet } from "./lib/ab";
import { median } from "./lib/stats";
import type { BenchContext } from "./lib/types";
import { startPeers } from "./lib/workers";
import { requestRate } from "./workloads/memory";

const { values } = parseArgs({ options: { runs: { type: "string" }, seconds: { type: "string" }, connections: { type: "string" } } });
const runs = Number(values.runs ?? 6);
const seconds = Number(values.seconds ?? 5);
const connections = Number(values.connections ?? 16);

const dir = await mkdtemp(join(tmpdir(), "edgepeer-scoped-ab-"));
const ctx = { loadSeconds: seconds } as BenchContext;
const [peer] = await startPeers(["peer-ab"], dir);
try {
  const { url, peerAuth, scopedAuth } = await scopedMemoryGet(peer!);
  const rate = (headers: Record<string, string>, s = seconds) => requestRate(ctx, url, connections, { headers }, s);
  await rate(peerAuth, 1);
  await rate(scopedAuth, 1);
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate who goes first, so a trend in the machine's load favours neither side.
    let p: number;
    let s: number;
    if (i % 2 === 0) {
      p = await rate(peerAuth);
      s = await rate(scopedAuth);
    } else {
      s = await rate(scopedAuth);
      p = await rate(peerAuth);
    }
    ratios.push(s / p);
    console.log(`run ${i + 1}: peer token ${p.toFixed(0)} req/s, scoped ${s.toFixed(0)} req/s, ratio ${(s / p).toFixed(3)}`);
  }
  console.log(`median ratio scoped/peer at ${connections} connections: ${median(ratios).toFixed(3)}`);
} finally {
  await peer!.stop();
  await rm(dir, { recursive: true, force: true });
}
