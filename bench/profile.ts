/**
 * CPU profile of one peer under one workload: where the worker's own time goes. Runs a peer as
 * the bench does, attaches to its V8 inspector, samples while the load runs, prints the
 * functions with the most self time and writes a `.cpuprofile` (open it in Chrome DevTools).
 *
 *   NODE_OPTIONS=--experimental-websocket npx tsx bench/profile.ts --case memory-get|memory-put|task|task-hit|upload-fast|upload-tee|upload-client|zip|zip-get
 *     [--seconds N] [--size MiB] [--top N] [--auth none]
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PeerClient } from "../src/client/client";
import { fileSource, nodeFetch } from "../src/client/node";
import { ROOT } from "../scripts/build-worker";
import { drain, fileStream, makeTestFile } from "./lib/files";
import { MiB } from "./lib/stats";
import { freePort, startPeers } from "./lib/workers";
import { requestRate } from "./workloads/memory";
import type { BenchContext } from "./lib/types";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A minimal Chrome DevTools Protocol session over the global WebSocket (node --experimental-websocket). */
async function inspect(url: string) {
  const Socket = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!Socket) throw new Error("no global WebSocket: run with NODE_OPTIONS=--experimental-websocket (Node 20) or Node 22+");
  const ws = new Socket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  return {
    send: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve) => {
        const id = next++;
        waiting.set(id, resolve as (r: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per function, in ms, heaviest first. */
function selfTimes(profile: CpuProfile): { name: string; ms: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const where = frame.url ? `${frame.url.split("/").pop()}:${frame.lineNumber + 1}` : "";
    const name = `${frame.functionName || "(anonymous)"} ${where}`.trim();
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      case: { type: "string", default: "memory-get" },
      seconds: { type: "string", default: "5" },
      size: { type: "string", default: "64" },
      top: { type: "string", default: "25" },
      auth: { type: "string" },
    },
  });
  const dir = await mkdtemp(join(tmpdir(), "edgepeer-profile-"));
  const inspectorPort = await freePort();
  const [peer] = await startPeers(["peer-profile"], dir, { inspectorPort, ...(values.auth && { bindings: { AUTH: values.auth } }) });
  const client = new PeerClient({ url: peer!.url, token: peer!.token, name: "peer-profile", fetch: nodeFetch });
  const ctx: BenchContext = {
    quick: false,
    runs: 1,
    dir,
    sizes: { upload: 0, transfer: 0, rss: 0 },
    loadSeconds: Number(values.seconds),
    latencyRequests: 0,
    log: console.log,
  };
  const headers = { authorization: `Bearer ${peer!.token}`, "content-type": "application/json" };
  const program = "function main(a, b) { return a + b; }";
  const file = /^(upload|zip)/.test(values.case) ? await makeTestFile(dir, "profile.bin", Number(values.size) * MiB) : undefined;
  /** The zip cases: a folder of 4 copies of the file, zipped or read by plain GETs. */
  const zipFolder = ["zip/f0.bin", "zip/f1.bin", "zip/f2.bin", "zip/f3.bin"];
  if (values.case.startsWith("zip"))
    for (const name of zipFolder) await client.putFile(name, fileStream(file!), { size: file!.size, sha256: file!.sha256 });
  const readRate = async (read: () => Promise<number>) => {
    const t = performance.now();
    const bytes = await read();
    return `${(bytes / 1e3 / (performance.now() - t)).toFixed(1)} MB/s`;
  };

  const load: Record<string, () => Promise<string>> = {
    "memory-get": async () => `${(await requestRate(ctx, `${peer!.url}/api/memory/k`, 16, { headers })).toFixed(0)} req/s`,
    "memory-put": async () =>
      `${(await requestRate(ctx, `${peer!.url}/api/memory/k`, 16, { method: "PUT", headers, body: JSON.stringify({ value: { n: 1 } }) })).toFixed(0)} req/s`,
    task: async () =>
      `${(await requestRate(ctx, `${peer!.url}/api/tasks`, 1, { method: "POST", headers, body: JSON.stringify({ program, args: [1, 2], cache: false }) })).toFixed(0)} req/s`,
    "task-hit": async () =>
      `${(await requestRate(ctx, `${peer!.url}/api/tasks`, 1, { method: "POST", headers, body: JSON.stringify({ program, args: [1, 2], cache: true }) })).toFixed(0)} req/s`,
    "upload-fast": async () => {
      const t = performance.now();
      await client.putFile("f", fileStream(file!), { size: file!.size, sha256: file!.sha256 });
      return `${(file!.size / 1e3 / (performance.now() - t)).toFixed(1)} MB/s`;
    },
    "upload-client": async () => {
      const t = performance.now();
      await client.upload("f", await fileSource(file!.path), { sha256: file!.sha256 });
      return `${(file!.size / 1e3 / (performance.now() - t)).toFixed(1)} MB/s`;
    },
    zip: () => readRate(async () => drain((await client.zip({ prefix: "zip/" })).body)),
    "zip-get": () =>
      readRate(async () => {
        let bytes = 0;
        for (const name of zipFolder) bytes += await drain((await client.getFile(name)).body);
        return bytes;
      }),
    "upload-tee": async () => {
      const t = performance.now();
      await client.putFile("f", fileStream(file!), { size: file!.size });
      return `${(file!.size / 1e3 / (performance.now() - t)).toFixed(1)} MB/s`;
    },
  };
  const run = load[values.case];
  if (!run) throw new Error(`unknown --case ${values.case}; one of ${Object.keys(load).join(", ")}`);

  try {
    await client.setMemory("k", { n: 1 });
    await run(); // warm: compile, first storage access
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
      id: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = targets.find((t) => t.id.startsWith("core:user:"));
    if (!target) throw new Error("the peer's worker is not among the inspector's targets");
    const session = await inspect(target.webSocketDebuggerUrl);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 100 });
    await session.send("Profiler.start");
    const figure = await run();
    const { profile } = await session.send<{ profile: CpuProfile }>("Profiler.stop");
    session.close();

    const times = selfTimes(profile);
    const total = times.reduce((sum, t) => sum + t.ms, 0);
    const idle = times.filter((t) => /^\((idle|program|garbage collector)\)/.test(t.name)).reduce((s, t) => s + t.ms, 0);
    console.log(`${values.case}: ${figure}; worker thread sampled ${total.toFixed(0)} ms, of which idle/program/GC ${idle.toFixed(0)} ms`);
    for (const t of times.slice(0, Number(values.top))) {
      console.log(`${t.ms.toFixed(1).padStart(9)} ms ${((100 * t.ms) / total).toFixed(1).padStart(5)}%  ${t.name}`);
    }
    const out = join(ROOT, "bench/results", `${values.case}.cpuprofile`);
    await mkdir(join(ROOT, "bench/results"), { recursive: true });
    await writeFile(out, JSON.stringify(profile));
    console.log(`profile: ${out}`);
  } finally {
    await peer!.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
