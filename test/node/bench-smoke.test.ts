import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { Results } from "../../bench/lib/types";

const run = promisify(execFile);
const WORKLOADS = ["upload", "download", "transfer", "sync", "replication", "rss", "memory", "tasks", "start", "webdav", "zip"];
/** Outside anchors: information beside another tool, no target of their own. */
const ANCHORS = ["rclone"];

/**
 * The bench in quick mode (tiny sizes, one run), so it cannot rot. Speed is measured by
 * `npm run bench`, never asserted here: only that every workload ran and gave figures.
 */
describe("npm run bench -- --quick", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("measures every workload and its ratio to the floor", { timeout: 600_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), "bench-smoke-"));
    const out = join(dir, "quick.json");
    await run(process.execPath, ["node_modules/tsx/dist/cli.mjs", "bench/run.ts", "--quick", "--out", out], {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    });
    const results = JSON.parse(await readFile(out, "utf8")) as Results;

    expect(results.mode).toBe("quick");
    expect(results.skipped).toEqual([]);
    expect(results.machine.cores).toBeGreaterThan(0);
    expect([...new Set(results.rows.map((r) => r.workload))].sort()).toEqual([...WORKLOADS, ...ANCHORS].sort());
    for (const row of results.rows) {
      const where = `${row.workload}: ${row.case}`;
      expect(row.value, where).toBeGreaterThan(0);
      expect(Number.isFinite(row.ratio) && row.ratio > 0, where).toBe(true);
      expect(row.runs, where).toHaveLength(1);
      expect(["pass", "miss", "info"], where).toContain(row.status);
      if (row.floor) expect(row.floor.value, where).toBeGreaterThan(0);
    }
    // Every workload with a target is judged against it.
    for (const workload of WORKLOADS) {
      expect(
        results.rows.some((r) => r.workload === workload && r.target),
        workload,
      ).toBe(true);
    }
  });
});
