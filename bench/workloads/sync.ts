/**
 * `edgepeer sync` and `check` (the library's `syncPeers` / `checkPeers`, as the CLI runs them)
 * peer → peer, next to the floor of a client doing bare GET → PUT between two bare workers at
 * the same concurrency: many small files and a few big ones. And a check of many identical
 * files next to the bare listing of both sides it is made of.
 */
import { checkPeers, syncPeers } from "../../src/client/index";
import type { PeerClient } from "../../src/client/client";
import { Cases } from "../lib/cases";
import { type TestFile, fileStream, makeTestFile } from "../lib/files";
import { MiB, mbps, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { type RunningWorker, startAll, startFloor, startPeers } from "../lib/workers";
import { benchClient, floorPut } from "./files";

/** Files moved at once, by the sync and by the floor alike (the sync's default). */
const CONCURRENCY = 4;

interface FileSet {
  label: string;
  count: number;
  size: number;
}

const sets = (quick: boolean): { small: FileSet; big: FileSet; check: number } =>
  quick
    ? { small: { label: "small", count: 40, size: 4096 }, big: { label: "big", count: 2, size: 4 * MiB }, check: 300 }
    : { small: { label: "small", count: 1000, size: 4096 }, big: { label: "big", count: 8, size: 64 * MiB }, check: 10_000 };

/** Runs `work` on 0…count-1, `concurrency` at a time. */
async function each(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const nameOf = (set: FileSet, i: number) => `${set.label}/${String(i).padStart(5, "0")}.bin`;

export const sync: Workload = async (ctx) => {
  const [floorA, floorB, peers] = (await startAll<RunningWorker | RunningWorker[]>([
    startFloor("r2", "sync-floor-a", ctx.dir),
    startFloor("r2", "sync-floor-b", ctx.dir),
    startPeers(["sync-peer1", "sync-peer2"], ctx.dir),
  ])) as [RunningWorker, RunningWorker, RunningWorker[]];
  const [p1, p2] = peers as [RunningWorker, RunningWorker];
  const stop = () => Promise.all([floorA.stop(), floorB.stop(), p1.stop(), p2.stop()]);
  const a = benchClient(ctx, floorA.url, undefined, "floor-a");
  const b = benchClient(ctx, floorB.url, undefined, "floor-b");
  const source = benchClient(ctx, p1.url, p1.token, "sync-peer1");
  const destination = benchClient(ctx, p2.url, p2.token, "sync-peer2");
  const cases = new Cases("sync", ctx.runs);
  const { small, big, check } = sets(ctx.quick);
  try {
    for (const set of [small, big]) {
      ctx.log(`  sync: seeding ${set.count} × ${set.size} B on both sources…`);
      const file = await makeTestFile(ctx.dir, `sync-${set.label}.bin`, set.size, `sync-${set.label}`);
      await seed(a, source, set, file);
    }

    const floor = (set: FileSet, run: number) => () =>
      each(set.count, CONCURRENCY, async (i) => {
        const got = await a.send("GET", `/${nameOf(set, i)}`);
        const put = await b.send("PUT", `/run-${run}/${nameOf(set, i)}`, {
          body: got.body!,
          headers: { "content-length": got.headers.get("content-length")! },
        });
        await put.arrayBuffer();
      });
    const edgepeer = (set: FileSet, run: number, mode: "pull" | "relay") => async () => {
      const report = await syncPeers(source, destination, {
        prefix: set.label,
        as: `${mode}-${run}/${set.label}`,
        mode,
        concurrency: CONCURRENCY,
      });
      if (report.copied !== set.count || report.failed.length > 0) {
        throw new Error(`${mode} sync copied ${report.copied} of ${set.count} (${report.failed[0]?.message ?? "no failure"})`);
      }
    };
    const rate = (set: FileSet, fn: () => Promise<unknown>) => async () => mbps(set.count * set.size, (await timed(fn)).ms);
    for (let i = 0; i < ctx.runs; i++) {
      for (const set of [small, big]) {
        await cases.run(`${set.label}-floor`, rate(set, floor(set, i)));
        await cases.run(`${set.label}-pull`, rate(set, edgepeer(set, i, "pull")));
        await cases.run(`${set.label}-relay`, rate(set, edgepeer(set, i, "relay")));
      }
      ctx.log(
        `  sync run ${i + 1}: ${["small-floor", "small-pull", "small-relay", "big-floor", "big-pull", "big-relay"].map((n) => `${n} ${cases.last(n)}`).join(", ")} MB/s`,
      );
    }

    ctx.log(`  check: seeding ${check} files on both peers…`);
    const tiny = new Uint8Array(16);
    await each(check, 16, async (i) => {
      const name = `check/${String(i).padStart(6, "0")}`;
      await Promise.all([source.putFile(name, tiny), destination.putFile(name, tiny)]);
    });
    let calls = 0;
    const listBoth = () => Promise.all([listAll(source), listAll(destination)]);
    const compare = async () => {
      const report = await checkPeers(source, destination, { prefix: "check" });
      if (report.identical !== check) throw new Error(`check found ${report.identical} identical of ${check}`);
      calls = report.pages.a + report.pages.b;
    };
    for (let i = 0; i < ctx.runs; i++) {
      await cases.run("list", async () => (await timed(listBoth)).ms);
      await cases.run("check", async () => (await timed(compare)).ms);
      ctx.log(`  check run ${i + 1}: list ${cases.last("list")} ms, check ${cases.last("check")} ms (${calls} listing calls)`);
    }

    const floorCase = (set: FileSet) => ({
      case: `bare GET piped into a bare PUT, ${CONCURRENCY} at a time (two bare workers)`,
      of: `${set.label}-floor`,
    });
    const what = (set: FileSet) => `${set.count} × ${set.size >= MiB ? `${set.size / MiB} MiB` : `${set.size / 1024} KiB`}`;
    return {
      rows: [small, big]
        .flatMap((set) => [
          ...cases.row({
            case: `sync ${what(set)} peer1 → peer2, pull (B pulls links A signs), ${CONCURRENCY} at a time`,
            unit: "MB/s",
            of: `${set.label}-pull`,
            floor: floorCase(set),
            target: { kind: "ratio-min", value: 1.0 },
          }),
          ...cases.row({
            case: `sync ${what(set)} peer1 → peer2, relay through the client, ${CONCURRENCY} at a time`,
            unit: "MB/s",
            of: `${set.label}-relay`,
            floor: floorCase(set),
            note: "bytes through the client, like the floor; each file also verified by SHA-256",
          }),
        ])
        .concat(
          cases.row({
            case: `check of ${check} identical files on two peers`,
            unit: "ms",
            of: "check",
            floor: { case: "listing both sides, page by page (the same calls, nothing compared)", of: "list" },
            target: { kind: "ratio-max", value: 1.2 },
            note: `${calls} listing calls for ${2 * check} files: bounded by the pages, not the file count`,
          }),
        ),
      skipped: cases.skipped(),
    };
  } finally {
    await stop();
  }
};

/**
 * The same files on the floor and on the peer: small ones 8 at a time, big ones one by one.
 * Untimed, so a put whose kept-alive connection workerd closed under it is simply sent again.
 */
async function seed(floor: PeerClient, peer: PeerClient, set: FileSet, file: TestFile): Promise<void> {
  await each(set.count, set.size >= MiB ? 1 : 8, async (i) => {
    await again(() => floorPut(floor, nameOf(set, i), file));
    await again(() => peer.upload(nameOf(set, i), { size: file.size, body: fileStream(file) }, { sha256: file.sha256 }));
  });
}

async function again<T>(put: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await put();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Every page of a peer's listing under `check/`, as the check reads them (1000 a page). */
async function listAll(peer: PeerClient): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await peer.listFiles({ prefix: "check/", cursor, limit: 1000 });
    cursor = page.cursor ?? undefined;
  } while (cursor);
}
