/**
 * Small-file sync against its floor, alternated in one run: N files peer1 → peer2 by the
 * floor (bare GET → PUT between bare workers) and by `syncPeers` (pull and relay), C at a time.
 * Prints each round's time and the CPU seconds of the whole process tree (the workerds: work
 * done, steadier than wall time on a loaded machine), and the median ratios of both.
 *
 *   npx tsx bench/sync-small-ab.ts [--files N] [--concurrency C] [--rounds R]
 */
import { parseArgs } from "node:util";
import { syncPeers } from "../src/client/index";
import { floorCopy, inParallel, startAbPair, timedCpu } from "./lib/ab";
import { median } from "./lib/stats";

const { values } = parseArgs({ options: { files: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" } } });
const files = Number(values.files ?? 200);
const concurrency = Number(values.concurrency ?? 4);
const rounds = Number(values.rounds ?? 3);
const size = 4096;
const { a, b, source, dest, stop } = await startAbPair("sync-small", "ss");
const each = (count: number, work: (i: number) => Promise<void>) => inParallel(count, concurrency, work);
const nameOf = (i: number) => `s/${String(i).padStart(5, "0")}.bin`;
try {
  const bytes = new Uint8Array(size).fill(7);
  await each(files, async (i) => {
    await (await a.send("PUT", `/${nameOf(i)}`, { body: bytes, headers: { "content-length": String(size) } })).arrayBuffer();
    await source.putFile(nameOf(i), bytes);
  });
  const ratios: Record<string, number[]> = { pull: [], relay: [] };
  const cpuRatios: Record<string, number[]> = { pull: [], relay: [] };
  for (let r = 0; r < rounds; r++) {
    const floor = await timedCpu(() => each(files, (i) => floorCopy(a, b, nameOf(i), `r${r}/${nameOf(i)}`)));
    const line = [`round ${r}: floor ${floor.ms.toFixed(0)} ms ${floor.cpu.toFixed(2)} cpu-s`];
    for (const mode of ["pull", "relay"] as const) {
      const t = await timedCpu(async () => {
        const report = await syncPeers(source, dest, { prefix: "s", as: `${mode}${r}/s`, mode, concurrency });
        if (report.copied !== files) throw new Error(`${mode}: copied ${report.copied} (${report.failed[0]?.message})`);
      });
      ratios[mode]!.push(floor.ms / t.ms);
      cpuRatios[mode]!.push(floor.cpu / t.cpu);
      line.push(
        `${mode} ${t.ms.toFixed(0)} ms ${t.cpu.toFixed(2)} cpu-s (${(floor.ms / t.ms).toFixed(2)}×, cpu ${(floor.cpu / t.cpu).toFixed(2)}×)`,
      );
    }
    console.log(line.join(", "));
  }
  console.log(
    `median pull ${median(ratios.pull!).toFixed(2)}×, relay ${median(ratios.relay!).toFixed(2)}×; by CPU: pull ${median(cpuRatios.pull!).toFixed(2)}×, relay ${median(cpuRatios.relay!).toFixed(2)}×`,
  );
} finally {
  await stop();
}
process.exit();
