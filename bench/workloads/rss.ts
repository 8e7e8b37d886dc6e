/**
 * Client peak RSS, read from the OS: the real CLI uploading a big file and the real transfer
 * script relaying it, each a child process under `/usr/bin/time -v` ("Maximum resident set
 * size"), against peers run as the network runs them.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "../../scripts/build-worker";
import { makeTestFile } from "../lib/files";
import { row } from "../lib/rows";
import { MiB, mbps } from "../lib/stats";
import type { BenchContext, Row, Workload } from "../lib/types";
import { startPeers } from "../lib/workers";

const run = promisify(execFile);
const TIME = "/usr/bin/time";

/** Installs Debian's `time` when it is missing (it is what reads the child's peak RSS). */
async function ensureTime(ctx: BenchContext): Promise<string | null> {
  if (existsSync(TIME)) return null;
  ctx.log("  installing Debian's `time` (apt-get install -y time)…");
  try {
    await run("apt-get", ["install", "-y", "time"], { maxBuffer: 16 * MiB });
  } catch (err) {
    return `${TIME} is missing and \`apt-get install -y time\` failed: ${(err as Error).message.split("\n")[0]}`;
  }
  return existsSync(TIME) ? null : `${TIME} is still missing after apt-get install time`;
}

/** Runs `node <args>` under `/usr/bin/time -v`: its peak RSS in MiB and its wall time in ms. */
export async function measureChild(args: string[]): Promise<{ rssMiB: number; ms: number }> {
  const started = performance.now();
  const child = spawn(TIME, ["-v", process.execPath, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const [code] = (await once(child, "exit")) as [number | null];
  const ms = performance.now() - started;
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  if (code !== 0 || !kb) {
    const tail = (stderr.split("\tCommand being timed")[0] || stdout).trim().split("\n").slice(-3).join(" | ");
    throw new Error(`node ${args.join(" ")} exited with ${code}: ${tail}`);
  }
  return { rssMiB: Number(kb) / 1024, ms };
}

export const rss: Workload = async (ctx) => {
  const missing = await ensureTime(ctx);
  if (missing) return { rows: [], skipped: [{ workload: "rss", reason: missing }] };
  const cli = join(ROOT, "bin/edgepeer.js");
  const transferScript = join(ROOT, "dist/transfer.js");
  await run(process.execPath, [join(ROOT, "scripts/build.mjs")], { cwd: ROOT });
  for (const entry of [join(ROOT, "dist/cli.js"), transferScript]) {
    if (!existsSync(entry)) return { rows: [], skipped: [{ workload: "rss", reason: `${entry} was not built by scripts/build.mjs` }] };
  }

  const peers = await startPeers(["peer1", "peer2"], ctx.dir);
  const network = join(ctx.dir, "rss-network.json");
  await writeFile(network, JSON.stringify({ peers: peers.map((p) => ({ name: p.name, url: p.url, token: p.token })) }), { mode: 0o600 });
  const file = await makeTestFile(ctx.dir, `rss-${ctx.sizes.rss}.bin`, ctx.sizes.rss);
  const size = `${file.size / MiB} MiB`;
  // The quick bench still goes multipart, with parts as small as R2 allows.
  const small = ctx.quick ? ["--multipart-threshold", String(4 * MiB), "--part-size", String(5 * MiB)] : [];
  const runs = {
    upload: [] as number[],
    relay: [] as number[],
    idle: [] as number[],
    uploadRate: [] as number[],
    relayRate: [] as number[],
  };
  try {
    for (let i = 0; i < ctx.runs; i++) {
      runs.idle.push((await measureChild(["-e", "0"])).rssMiB);
      const up = await measureChild([
        cli,
        "--network",
        network,
        "--peer",
        "peer1",
        ...small,
        "put-file",
        "--filepath",
        file.path,
        // A new name each run: replacing a file needs the upload's SHA-256 verified, which a
        // part retried after a reset leaves undone (the CLI then refuses, as it should).
        "--filename",
        `big-${i}`,
      ]);
      runs.upload.push(up.rssMiB);
      runs.uploadRate.push(mbps(file.size, up.ms));
      const relay = await measureChild([
        transferScript,
        "--network",
        network,
        ...small,
        "--from",
        "peer1",
        "--to",
        "peer2",
        "--filename",
        `big-${i}`,
        "--as",
        `big-${i}`,
        "--mode",
        "relay",
      ]);
      runs.relay.push(relay.rssMiB);
      runs.relayRate.push(mbps(file.size, relay.ms));
      ctx.log(
        `  rss run ${i + 1}: CLI upload ${runs.upload.at(-1)!.toFixed(1)} MiB (${runs.uploadRate.at(-1)!.toFixed(1)} MB/s), relay ${runs.relay.at(-1)!.toFixed(1)} MiB (${runs.relayRate.at(-1)!.toFixed(1)} MB/s), bare node ${runs.idle.at(-1)!.toFixed(1)} MiB`,
      );
    }
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
  const rows: Row[] = [
    row({
      workload: "rss",
      case: `\`edgepeer put-file\` of ${size} (CLI process, peak RSS)`,
      unit: "MiB",
      runs: runs.upload,
      target: { kind: "max", value: 64 },
    }),
    row({
      workload: "rss",
      case: `\`npm run transfer -- --mode relay\` of ${size} (script process, peak RSS)`,
      unit: "MiB",
      runs: runs.relay,
      target: { kind: "max", value: 64 },
    }),
    row({ workload: "rss", case: "bare `node -e 0` (what any Node process costs)", unit: "MiB", runs: runs.idle }),
    row({
      workload: "rss",
      case: `CLI upload of ${size}, wall time incl. process start and hashing the file`,
      unit: "MB/s",
      runs: runs.uploadRate,
    }),
    row({ workload: "rss", case: `relay script of ${size}, wall time incl. process start`, unit: "MB/s", runs: runs.relayRate }),
  ];
  return { rows };
};
