/**
 * `npm run bench` — every edgepeer path beside the bare platform doing the same work, in the
 * same run, on the same machine; prints the ratios, writes bench/results/latest.json and
 * regenerates BENCHMARKS.md.
 *
 *   npm run bench -- [--quick] [--only upload,download,transfer,sync,replication,rclone,rss,memory,tasks,start,webdav,zip]
 *                    [--runs N] [--out FILE] [--no-report] [--render]
 *
 * `--quick`: tiny sizes, one run, short load tests; writes bench/results/quick.json and leaves
 * BENCHMARKS.md alone (the smoke test in `npm test` runs it so the bench cannot rot).
 * `--render`: regenerate BENCHMARKS.md from bench/results/latest.json and bench/notes.md only.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/build-worker";
import { machine } from "./lib/machine";
import { renderReport } from "./lib/report";
import { MiB } from "./lib/stats";
import type { BenchContext, Results, Row, Skipped, Source, Workload } from "./lib/types";
import { peerBundle } from "./lib/workers";
import { download, upload } from "./workloads/files";
import { memory } from "./workloads/memory";
import { replication } from "./workloads/replication";
import { rclone } from "./workloads/rclone";
import { rss } from "./workloads/rss";
import { start } from "./workloads/start";
import { sync } from "./workloads/sync";
import { tasks } from "./workloads/tasks";
import { transfer } from "./workloads/transfer";
import { webdav } from "./workloads/webdav";
import { zip } from "./workloads/zip";

const WORKLOADS: Record<string, Workload> = {
  upload,
  download,
  transfer,
  sync,
  replication,
  rclone,
  rss,
  memory,
  tasks,
  start,
  webdav,
  zip,
};

const USAGE = `usage: npm run bench -- [--quick] [--only ${Object.keys(WORKLOADS).join(",")}] [--runs N] [--out FILE] [--no-report] [--render]`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      runs: { type: "string" },
      out: { type: "string" },
      "no-report": { type: "boolean", default: false },
      render: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = values.only
    ? values.only
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : Object.keys(WORKLOADS);
  const unknown = only.filter((w) => !(w in WORKLOADS));
  if (unknown.length) {
    console.error(`error: unknown workload ${unknown.join(", ")}\n${USAGE}`);
    process.exit(2);
  }
  const runs = values.runs ? Number(values.runs) : values.quick ? 1 : 3;
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`error: --runs must be a whole number ≥ 1\n${USAGE}`);
    process.exit(2);
  }
  const out = resolve(values.out ?? join(ROOT, "bench/results", values.quick ? "quick.json" : "latest.json"));
  // BENCHMARKS.md records full runs of every workload only.
  const report = !values.quick && !values["no-report"] && !values.only && !values.runs;
  return { quick: values.quick, only, runs, out, report, render: values.render };
}

/** BENCHMARKS.md from a results file and bench/notes.md. */
async function writeReport(results: Results): Promise<void> {
  const notes = await readFile(join(ROOT, "bench/notes.md"), "utf8").catch(() => "");
  await writeFile(join(ROOT, "BENCHMARKS.md"), renderReport(results, notes));
  console.log(`report: ${join(ROOT, "BENCHMARKS.md")}`);
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.render) {
    // Re-render only (after editing bench/notes.md): no measuring.
    await writeReport(JSON.parse(await readFile(opts.out, "utf8")) as Results);
    return;
  }
  const began = performance.now();
  const dir = await mkdtemp(join(tmpdir(), "edgepeer-bench-"));
  const ctx: BenchContext = {
    quick: opts.quick,
    runs: opts.runs,
    dir,
    sizes: opts.quick ? { upload: 8 * MiB, transfer: 8 * MiB, rss: 8 * MiB } : { upload: 256 * MiB, transfer: 1024 * MiB, rss: 1024 * MiB },
    loadSeconds: opts.quick ? 0.5 : 5,
    latencyRequests: opts.quick ? 10 : 200,
    log: (line) => console.log(line),
  };
  const rows: Row[] = [];
  const skipped: Skipped[] = [];
  let failed = false;
  const loadBefore = loadavg()[0]!;
  let source: Source = { commit: "unknown", uncommittedFiles: 0, bundle: "unknown" };
  try {
    source = await sourceOf(dir);
    console.log(
      `measuring ${source.commit} (${source.uncommittedFiles} uncommitted source files), bundle ${source.bundle}; load ${loadBefore.toFixed(2)}`,
    );
    for (const name of opts.only) {
      console.log(`${name}…`);
      const t = performance.now();
      try {
        const result = await WORKLOADS[name]!(ctx);
        rows.push(...result.rows);
        skipped.push(...(result.skipped ?? []));
        for (const r of result.rows) console.log(`  ${summary(r)}`);
        for (const s of result.skipped ?? []) console.log(`  not measured: ${s.reason}`);
      } catch (err) {
        failed = true;
        const reason = err instanceof Error ? err.message : String(err);
        skipped.push({ workload: name, reason: `the bench failed: ${reason.split("\n")[0]}` });
        console.error(`  ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
      }
      console.log(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const results: Results = {
    date: new Date().toISOString(),
    source,
    load: { before: loadBefore, after: loadavg()[0]! },
    mode: opts.quick ? "quick" : "full",
    runs: opts.runs,
    machine: machine(),
    sizes: ctx.sizes,
    rows,
    skipped,
    durationSeconds: (performance.now() - began) / 1000,
  };
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${opts.out}`);
  if (opts.report) await writeReport(results);
  const misses = rows.filter((r) => r.status === "miss").length;
  console.log(
    `${rows.filter((r) => r.status === "pass").length} pass, ${misses} miss, ${skipped.length} not measured, in ${Math.round(results.durationSeconds)} s`,
  );
  // Misses are findings, not failures; a workload that crashed is a failure.
  process.exitCode = failed ? 1 : 0;
}

/** The commit, uncommitted changes under src/, and the worker bundle this run measures. */
async function sourceOf(dir: string): Promise<Source> {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  let commit = "unknown";
  let uncommittedFiles = 0;
  try {
    commit = git("rev-parse", "--short", "HEAD");
    uncommittedFiles = git("status", "--porcelain", "--", "src", "scripts", "wrangler.toml").split("\n").filter(Boolean).length;
  } catch {
    // Not a git checkout: the figures still stand, only their provenance is vaguer.
  }
  const bundle = await peerBundle(dir);
  return { commit, uncommittedFiles, bundle: bundle.id };
}

function summary(r: Row): string {
  const floor = r.floor ? ` vs ${r.floor.value} (${r.floor.case}) → ratio ${r.ratio.toFixed(2)}` : "";
  return `${r.status.padEnd(4)} ${r.case}: ${r.value} ${r.unit}${floor}`;
}

await main();
// Exit even if a failed workload left a handle open (a worker it could not stop).
process.exit();
