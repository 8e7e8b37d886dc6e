/**
 * CPU per byte of a zip against plain GETs of the same files: the worker process's CPU time
 * (workerd, R2's simulator included, from /proc) and the wall time of each, interleaved. CPU
 * time holds still on a loaded machine where wall time does not, so it separates the zip's own
 * cost from the load. `--names` also times the same zip asked by `POST /api/zip`.
 *
 *   npx tsx bench/zip-ab.ts [--files N] [--size MiB] [--rounds N] [--names]
 */
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { drain, fileStream, makeTestFile } from "./lib/files";
import { MiB, median } from "./lib/stats";
import type { BenchContext } from "./lib/types";
import { startPeers } from "./lib/workers";
import { benchClient } from "./workloads/files";

const { values } = parseArgs({
  options: { files: { type: "string" }, size: { type: "string" }, rounds: { type: "string" }, names: { type: "boolean" } },
});
const count = Number(values.files ?? 8);
const size = Number(values.size ?? 32) * MiB;
const rounds = Number(values.rounds ?? 5);
const TICK = 100; // clock ticks per second of /proc's CPU times (USER_HZ)

/** User + system CPU seconds of this process's workerd children. */
function workerCpu(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid || !stat.includes("(workerd)")) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / TICK;
}

const dir = await mkdtemp(join(tmpdir(), "edgepeer-zip-ab-"));
const [worker] = await startPeers(["zip-ab"], dir);
try {
  const peer = benchClient({ quick: false } as BenchContext, worker!.url, worker!.token, "zip-ab");
  const file = await makeTestFile(dir, "part.bin", size);
  const names = Array.from({ length: count }, (_, i) => `zip/f${i}.bin`);
  for (const name of names) await peer.upload(name, { body: fileStream(file), size: file.size }, { sha256: file.sha256 });
  const cases: Record<string, () => Promise<number>> = {
    get: async () => {
      let bytes = 0;
      for (const name of names) bytes += await drain((await peer.getFile(name)).body);
      return bytes;
    },
    zip: async () => drain((await peer.zip({ prefix: "zip/" })).body),
    ...(values.names && { "zip (POST)": async () => drain((await peer.zip({ names: ["zip/"] })).body) }),
  };
  for (const run of Object.values(cases)) await run(); // warm
  const figures = new Map<string, { cpu: number[]; mbps: number[] }>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(cases)) {
      const cpu = workerCpu();
      const t = performance.now();
      const bytes = await run();
      const ms = performance.now() - t;
      const f = figures.get(name) ?? { cpu: [], mbps: [] };
      f.cpu.push(((workerCpu() - cpu) * 1000) / (bytes / MiB));
      f.mbps.push(bytes / 1e3 / ms);
      figures.set(name, f);
    }
  }
  console.log(`${count} × ${size / MiB} MiB, ${rounds} rounds (medians):`);
  for (const [name, f] of figures)
    console.log(
      `  ${name.padEnd(12)} ${median(f.mbps).toFixed(0).padStart(5)} MB/s  ${median(f.cpu).toFixed(2)} ms of workerd CPU per MiB`,
    );
} finally {
  await worker!.stop();
  await rm(dir, { recursive: true, force: true });
}
