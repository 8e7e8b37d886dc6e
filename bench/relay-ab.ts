/**
 * The relay of one big file through the client, A/B: as `transferFile` sends it (multipart
 * above the threshold: 16 MiB parts, each reserved and committed in the storage quota), and
 * as one streamed PUT (threshold above the size), beside the floor (a bare GET piped into a
 * bare PUT) and the pull, interleaved. Prints each round and the medians.
 *
 *   npx tsx bench/relay-ab.ts [--mib N] [--rounds N]
 */
import { parseArgs } from "node:util";
import { PeerClient } from "../src/client/client";
import { transferFile } from "../src/client/index";
import { nodeFetch } from "../src/client/node";
import { floorCopy, startAbPair } from "./lib/ab";
import { fileStream, makeTestFile } from "./lib/files";
import { MiB, mbps, median, timed } from "./lib/stats";
import { floorPut } from "./workloads/files";

const { values } = parseArgs({ options: { mib: { type: "string" }, rounds: { type: "string" } } });
const size = Number(values.mib ?? 256) * MiB;
const rounds = Number(values.rounds ?? 3);
const { dir, a, b, p2, source, dest, stop } = await startAbPair("relay-ab");
try {
  const single = new PeerClient({ url: p2.url, token: p2.token, name: "ab-peer2", fetch: nodeFetch, multipartThreshold: 2 * size });
  const file = await makeTestFile(dir, "relay.bin", size);
  await floorPut(a, "f.bin", file);
  await source.upload("f.bin", { size, body: fileStream(file) }, { sha256: file.sha256 });
  const runs: Record<string, number[]> = {};
  const rate = async (name: string, fn: () => Promise<unknown>) => {
    await new Promise((r) => setTimeout(r, 250));
    runs[name] = [...(runs[name] ?? []), mbps(size, (await timed(fn)).ms)];
  };
  for (let i = 0; i < rounds; i++) {
    await rate("floor GET→PUT", () => floorCopy(a, b, "f.bin", `r${i}.bin`));
    await rate("relay, multipart (as sent)", () => transferFile(source, dest, "f.bin", { mode: "relay", as: `m${i}.bin` }));
    await rate("relay, one streamed PUT", () => transferFile(source, single, "f.bin", { mode: "relay", as: `s${i}.bin` }));
    await rate("pull", () => transferFile(source, dest, "f.bin", { mode: "pull", as: `p${i}.bin` }));
    console.log(
      `round ${i + 1}: ${Object.entries(runs)
        .map(([k, v]) => `${k} ${v.at(-1)!.toFixed(1)}`)
        .join(", ")} MB/s`,
    );
  }
  const floor = runs["floor GET→PUT"]!;
  for (const [name, v] of Object.entries(runs)) {
    const ratio = median(v.map((x, i) => x / floor[i]!));
    console.log(`${name.padEnd(28)} median ${median(v).toFixed(1)} MB/s, ratio to the floor ${ratio.toFixed(2)}`);
  }
} finally {
  await stop();
}
process.exit();
