/** `npm start` to 3 healthy peers: wall time from spawn until every peer's health check answers. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "../../scripts/build-worker";
import { row } from "../lib/rows";
import { freePort } from "../lib/workers";
import type { Workload } from "../lib/types";

const PEERS = 3;

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });

/** A first port such that it and the next `n - 1` are free. */
async function freeRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    if (first + n - 1 > 65535) continue;
    let ok = true;
    for (let p = first + 1; p < first + n && ok; p++) ok = await portFree(p);
    if (ok) return first;
  }
  throw new Error(`no ${n} consecutive free ports`);
}

async function healthy(url: string, name: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
    return response.status === 200 && ((await response.json()) as { peer?: string }).peer === name;
  } catch {
    return false;
  }
}

/** Seconds from `npm start` to 3 healthy peers, with a fresh data directory. */
async function startOnce(dir: string, timeoutMs: number): Promise<number> {
  const port = await freeRange(PEERS);
  const started = performance.now();
  const child = spawn("npm", ["start", "--", "--port", String(port), "--dir", dir, "--peers", String(PEERS)], {
    cwd: ROOT,
    detached: true, // its own process group: npm, sh and node stop together
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const exited = once(child, "exit");
  try {
    const peers = Array.from({ length: PEERS }, (_, i) => ({ name: `peer${i + 1}`, url: `http://127.0.0.1:${port + i}` }));
    const up = new Set<string>();
    while (up.size < PEERS) {
      if (child.exitCode !== null)
        throw new Error(`npm start exited with ${child.exitCode}: ${output.trim().split("\n").slice(-3).join(" | ")}`);
      if (performance.now() - started > timeoutMs) throw new Error(`npm start: peers not healthy after ${timeoutMs / 1000} s`);
      for (const p of peers) if (!up.has(p.name) && (await healthy(p.url, p.name))) up.add(p.name);
      if (up.size < PEERS) await new Promise((r) => setTimeout(r, 50));
    }
    return (performance.now() - started) / 1000;
  } finally {
    if (child.exitCode === null && child.pid) {
      process.kill(-child.pid, "SIGINT");
      const kill = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(kill);
    }
  }
}

export const start: Workload = async (ctx) => {
  const runs: number[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    runs.push(await startOnce(await mkdtemp(join(ctx.dir, "network-")), 60_000));
    ctx.log(`  npm start run ${i + 1}: 3 peers healthy after ${runs.at(-1)!.toFixed(2)} s`);
  }
  return {
    rows: [
      row({
        workload: "start",
        case: "`npm start` to 3 healthy peers (fresh data dir, worker bundle cached)",
        unit: "s",
        runs,
        target: { kind: "max", value: 10 },
      }),
    ],
  };
};
