/**
 * Two builds of the peer side by side in one run: the same workload against a peer of bundle A
 * and one of bundle B (each a directory `scripts/build-worker.ts` cached), rounds interleaved,
 * beside a bare floor. For A/B-ing a change of the peer's hot path on a loaded machine.
 *
 *   npx tsx bench/bundle-ab.ts --a DIR --b DIR [--workload relay-put|scoped-get] [--rounds R] [--files N] [--concurrency C]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import type { WorkerBundle } from "../scripts/build-worker";
import { peerOptions } from "../scripts/peer-options";
import { inParallel, scopedMemoryGet, timedCpu } from "./lib/ab";
import { median } from "./lib/stats";
import type { BenchContext } from "./lib/types";
import { freePort, startFloor } from "./lib/workers";
import { benchClient } from "./workloads/files";
import { requestRate } from "./workloads/memory";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    workload: { type: "string" },
    rounds: { type: "string" },
    files: { type: "string" },
    concurrency: { type: "string" },
    seconds: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 6);
const files = Number(values.files ?? 200);
const concurrency = Number(values.concurrency ?? 4);
const workload = values.workload ?? "relay-put";
const dir = await mkdtemp(join(tmpdir(), "edgepeer-bundle-ab-"));

async function startPeer(bundleDir: string, name: string) {
  const built = JSON.parse(await readFile(join(bundleDir, "bundle.json"), "utf8")) as WorkerBundle;
  const b = { ...built, dir: bundleDir, scriptPath: join(bundleDir, "index.js") };
  const port = await freePort();
  const spec = { name, port, url: `http://127.0.0.1:${port}`, token: randomBytes(32).toString("hex") };
  const mf = new Miniflare(peerOptions(b, spec, [spec], dir, "127.0.0.1"));
  await mf.ready;
  return { ...spec, stop: () => mf.dispose() };
}

const ctx = { quick: false, loadSeconds: Number(values.seconds ?? 4) } as BenchContext;
const floor = await startFloor("r2", "ab-floor", dir);
const peers = { A: await startPeer(values.a!, "ab-peer-a"), B: await startPeer(values.b!, "ab-peer-b") };
const each = (count: number, work: (i: number) => Promise<void>) => inParallel(count, concurrency, work);
try {
  const results: Record<"A" | "B", number[]> = { A: [], B: [] };
  const cpu: Record<"A" | "B", number[]> = { A: [], B: [] };
  if (workload === "relay-put") {
    // GET a 4 KiB file from the bare floor and PUT it (with its SHA-256, as the relay does) to the peer.
    const src = benchClient(ctx, floor.url, undefined, "floor");
    const bytes = new Uint8Array(4096).fill(7);
    const sha = (await import("node:crypto")).createHash("sha256").update(bytes).digest("hex");
    const name = (i: number) => `s/${String(i).padStart(5, "0")}.bin`;
    await each(files, async (i) => {
      await (await src.send("PUT", `/${name(i)}`, { body: bytes, headers: { "content-length": "4096" } })).arrayBuffer();
    });
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
      const line: string[] = [];
      for (const which of order) {
        const p = peers[which];
        const dest = benchClient(ctx, p.url, p.token, p.name);
        const t = await timedCpu(() =>
          each(files, async (i) => {
            const got = await src.send("GET", `/${name(i)}`);
            const res = await dest.send("PUT", `/api/files/r${r}/${name(i)}`, {
              body: got.body!,
              headers: { "content-length": got.headers.get("content-length")!, "x-content-sha256": sha },
            });
            if (res.status !== 201) throw new Error(`PUT answered ${res.status}`);
            await res.arrayBuffer();
          }),
        );
        results[which].push(t.ms);
        cpu[which].push(t.cpu);
        line.push(`${which} ${t.ms.toFixed(0)} ms ${cpu[which].at(-1)!.toFixed(2)} cpu-s`);
      }
      console.log(`round ${r}: ${line.join(", ")} (B/A time ${(results.B[r]! / results.A[r]!).toFixed(3)})`);
    }
    const ratios = results.A.map((a, i) => a / results.B[i]!);
    const cpuRatios = cpu.A.map((a, i) => a / cpu.B[i]!);
    console.log(
      `median speed B÷A ${median(ratios).toFixed(3)} (A ${median(results.A).toFixed(0)} ms, B ${median(results.B).toFixed(0)} ms); CPU A÷B ${median(cpuRatios).toFixed(3)} (A ${median(cpu.A).toFixed(2)}, B ${median(cpu.B).toFixed(2)} cpu-s)`,
    );
  } else if (workload === "scoped-get") {
    // Memory GET with a scoped token against A and B (requests per second, `concurrency` connections).
    const urls: Record<string, { url: string; headers: Record<string, string> }> = {};
    for (const which of ["A", "B"] as const) {
      const { url, scopedAuth } = await scopedMemoryGet(peers[which]);
      urls[which] = { url, headers: scopedAuth };
      await requestRate(ctx, urls[which]!.url, concurrency, { headers: urls[which]!.headers }, 1);
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
      for (const which of order) {
        results[which].push(await requestRate(ctx, urls[which]!.url, concurrency, { headers: urls[which]!.headers }, ctx.loadSeconds));
      }
      console.log(
        `round ${r}: A ${results.A[r]!.toFixed(0)} req/s, B ${results.B[r]!.toFixed(0)} req/s (B÷A ${(results.B[r]! / results.A[r]!).toFixed(3)})`,
      );
    }
    const ratios = results.B.map((b, i) => b / results.A[i]!);
    console.log(`median B÷A ${median(ratios).toFixed(3)}`);
  }
} finally {
  await Promise.allSettled([floor.stop(), peers.A.stop(), peers.B.stop()]);
  await rm(dir, { recursive: true, force: true });
}
process.exit();
