/**
 * Memory GET and PUT at 1 and 16 concurrent clients, measured by autocannon, next to a bare
 * worker doing one `KV.get` / `KV.put` per request.
 */
import autocannon from "autocannon";
import { row } from "../lib/rows";
import type { BenchContext, Row, Workload } from "../lib/types";
import { type RunningWorker, startAll, startFloor, startPeers } from "../lib/workers";

/** A small JSON value, the same bytes on both sides. */
const VALUE = { note: "edgepeer bench", n: 42, tags: ["a", "b", "c"], text: "x".repeat(200) };

/** Requests per second of one autocannon run; any error or non-2xx answer fails the bench. */
export async function requestRate(
  ctx: BenchContext,
  url: string,
  connections: number,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  seconds = ctx.loadSeconds,
): Promise<number> {
  const result = await autocannon({ url, connections, duration: seconds, timeout: 30, ...init });
  if (result.errors || result.non2xx) {
    throw new Error(
      `autocannon ${init.method ?? "GET"} ${url}: ${result.errors} errors, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`,
    );
  }
  return result.requests.total / ((result.finish.getTime() - result.start.getTime()) / 1000);
}

export const memory: Workload = async (ctx) => {
  const [floor, [peer]] = (await startAll<RunningWorker | RunningWorker[]>([
    startFloor("kv", "floor-kv", ctx.dir),
    startPeers(["peer-kv"], ctx.dir),
  ])) as [RunningWorker, RunningWorker[]];
  const auth = { authorization: `Bearer ${peer!.token}` };
  const json = { "content-type": "application/json" };
  const valueText = JSON.stringify(VALUE);
  const rows: Row[] = [];
  try {
    // Both sides hold the key before the GETs.
    await fetch(`${floor.url}/bench-key`, { method: "PUT", body: valueText });
    await fetch(`${peer!.url}/api/memory/bench-key`, {
      method: "PUT",
      headers: { ...auth, ...json },
      body: JSON.stringify({ value: VALUE }),
    });
    // A scoped token (memory, keys under "bench-"): the hot path's scope check against the peer token's.
    const minted = await fetch(`${peer!.url}/api/tokens`, {
      method: "POST",
      headers: { ...auth, ...json },
      body: JSON.stringify({ ops: ["memory"], prefix: "bench-", label: "bench" }),
    });
    if (minted.status !== 201) throw new Error(`minting a scoped token answered ${minted.status}`);
    const scoped = { authorization: `Bearer ${((await minted.json()) as { token: string }).token}` };
    const scopedGet = (c: number, seconds?: number) =>
      requestRate(ctx, `${peer!.url}/api/memory/bench-key`, c, { headers: scoped }, seconds);
    const floorGet = (c: number, seconds?: number) => requestRate(ctx, `${floor.url}/bench-key`, c, {}, seconds);
    const get = (c: number, seconds?: number) => requestRate(ctx, `${peer!.url}/api/memory/bench-key`, c, { headers: auth }, seconds);
    const floorPut = (c: number, seconds?: number) =>
      requestRate(ctx, `${floor.url}/bench-put`, c, { method: "PUT", headers: json, body: valueText }, seconds);
    const put = (c: number, seconds?: number) =>
      requestRate(
        ctx,
        `${peer!.url}/api/memory/bench-put`,
        c,
        { method: "PUT", headers: { ...auth, ...json }, body: JSON.stringify({ value: VALUE }) },
        seconds,
      );
    // Untimed warm-up of every path: compiling, first KV access, connection pools.
    for (const warm of [floorGet, get, scopedGet, floorPut, put]) await warm(16, 0.5);
    for (const connections of [1, 16]) {
      const runs = {
        floorGet: [] as number[],
        get: [] as number[],
        floorPut: [] as number[],
        put: [] as number[],
        peerGet: [] as number[],
        scopedGet: [] as number[],
      };
      for (let i = 0; i < ctx.runs; i++) {
        // Alternate who goes first, so a trend in the machine's load favours neither side.
        const both = async (bare: () => Promise<number>, edgepeer: () => Promise<number>) => {
          if (i % 2 === 0) {
            const f = await bare();
            return [f, await edgepeer()] as const;
          }
          const e = await edgepeer();
          return [await bare(), e] as const;
        };
        const [fg, g] = await both(
          () => floorGet(connections),
          () => get(connections),
        );
        const [fp, p] = await both(
          () => floorPut(connections),
          () => put(connections),
        );
        const [pg, sg] = await both(
          () => get(connections),
          () => scopedGet(connections),
        );
        runs.peerGet.push(pg);
        runs.scopedGet.push(sg);
        runs.floorGet.push(fg);
        runs.get.push(g);
        runs.floorPut.push(fp);
        runs.put.push(p);
        ctx.log(
          `  memory ×${connections} run ${i + 1}: GET bare ${runs.floorGet.at(-1)!.toFixed(0)} / edgepeer ${runs.get.at(-1)!.toFixed(0)}, PUT bare ${runs.floorPut.at(-1)!.toFixed(0)} / edgepeer ${runs.put.at(-1)!.toFixed(0)} req/s`,
        );
      }
      const clients = connections === 1 ? "1 client" : `${connections} concurrent clients`;
      rows.push(
        row({
          workload: "memory",
          case: `GET, ${clients}`,
          unit: "req/s",
          runs: runs.get,
          floor: { case: "bare KV.get", runs: runs.floorGet },
          target: { kind: "ratio-min", value: 0.9 },
        }),
        row({
          workload: "memory",
          case: `GET with a scoped token (memory, prefix bench-), ${clients}`,
          unit: "req/s",
          runs: runs.scopedGet,
          floor: { case: "the same GET with the peer token", runs: runs.peerGet },
          target: { kind: "ratio-min", value: 0.95 },
        }),
        row({
          workload: "memory",
          case: `PUT, ${clients}`,
          unit: "req/s",
          runs: runs.put,
          floor: { case: "bare KV.put", runs: runs.floorPut },
          target: { kind: "ratio-min", value: 0.9 },
        }),
      );
    }
  } finally {
    await Promise.all([floor.stop(), peer!.stop()]);
  }
  return { rows };
};
