/**
 * Tasks on one peer, by latency: a warm run of a tiny program and a result-cache hit, each
 * beside a memory GET on the same peer. Latency: the median of many requests sent one after
 * another by the project's client, timed by the bench's own clock. (autocannon is used for
 * rates; its latency histogram counts whole milliseconds, too coarse here.)
 */
import { PeerError } from "../../src/client/errors";
import { row } from "../lib/rows";
import type { BenchContext, Workload } from "../lib/types";
import { startPeers } from "../lib/workers";
import { benchClient } from "./files";
import { median } from "../lib/stats";

const PROGRAM = "function main(a, b) { return a + b; }";

/** Median milliseconds of `n` sequential calls, after a few untimed ones. */
async function latency(n: number, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await call();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    out.push(performance.now() - start);
  }
  return median(out);
}

export const tasks: Workload = async (ctx: BenchContext) => {
  const [peer] = await startPeers(["peer-tasks"], ctx.dir);
  const client = benchClient(ctx, peer!.url, peer!.token, "peer-tasks");
  try {
    try {
      const probe = await client.runTask({ program: PROGRAM, args: [1, 2], cache: false });
      if (probe.status !== "succeeded" || probe.result !== 3) {
        return {
          rows: [],
          skipped: [
            {
              workload: "tasks",
              reason: `POST /api/tasks ran the probe as ${probe.status} (${probe.error ?? JSON.stringify(probe.result)})`,
            },
          ],
        };
      }
    } catch (err) {
      const reason = err instanceof PeerError ? `POST /api/tasks answered ${err.status} ${err.code}: ${err.message}` : String(err);
      return { rows: [], skipped: [{ workload: "tasks", reason }] };
    }
    await client.setMemory("bench-key", { n: 1 });
    const hit = await client.runTask({ program: PROGRAM, args: [20, 22], cache: true });
    if ((await client.runTask({ program: PROGRAM, args: [20, 22], cache: true })).cached !== true) {
      return {
        rows: [],
        skipped: [{ workload: "tasks", reason: `a repeated task with "cache": true was not a cache hit (${JSON.stringify(hit)})` }],
      };
    }
    const n = ctx.latencyRequests;
    const runs = { memory: [] as number[], warm: [] as number[], hit: [] as number[] };
    for (let r = 0; r < ctx.runs; r++) {
      runs.memory.push(await latency(n, () => client.getMemory("bench-key")));
      runs.warm.push(await latency(n, () => client.runTask({ program: PROGRAM, args: [1, 2], cache: false })));
      runs.hit.push(await latency(n, () => client.runTask({ program: PROGRAM, args: [20, 22], cache: true })));
      ctx.log(
        `  tasks run ${r + 1}: memory GET ${runs.memory.at(-1)!.toFixed(2)} ms, warm task ${runs.warm.at(-1)!.toFixed(2)} ms, cache hit ${runs.hit.at(-1)!.toFixed(2)} ms`,
      );
    }
    const memory = { case: "memory GET on the same peer", runs: runs.memory };
    return {
      rows: [
        row({
          workload: "tasks",
          case: "warm run of a tiny program, no cache (latency, 1 client)",
          unit: "ms",
          runs: runs.warm,
          floor: memory,
          target: { kind: "overhead-max", value: 5 },
        }),
        row({
          workload: "tasks",
          case: "result-cache hit (latency, 1 client)",
          unit: "ms",
          runs: runs.hit,
          floor: memory,
          target: { kind: "ratio-max", value: 1.2 },
        }),
      ],
    };
  } finally {
    await peer!.stop();
  }
};
