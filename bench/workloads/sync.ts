/**
 * `edgepeer sync` and `check` (the library's `syncPeers` / `checkPeers`, as the CLI runs them)
 * peer → peer, next to the floor of a client doing bare GET → PUT between two bare workers at
 * the same concurrency: many small files and a few big ones. Then what must cost only the
 * listings: a check of many identical files, and a second sync with nothing left to do (of the
 * small files just synced, and of the many identical files), each beside the bare listing of
 * both sides, with the HTTP requests the client actually sent counted.
 */
import { checkPeers, syncPeers } from "../../src/client/index";
import { type FetchInit, PeerClient } from "../../src/client/client";
import { nodeFetch } from "../../src/client/node";
import { Cases } from "../lib/cases";
import { row } from "../lib/rows";
import { type TestFile, fileStream, makeTestFile } from "../lib/files";
import { MiB, mbps, timed } from "../lib/stats";
import type { Row, Workload } from "../lib/types";
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

    // A copy whose kept-alive connection workerd reset under it is made again, from its GET, as
    // the sync makes its own again (`copyAgainAfterReset`): the floor's body is a one-shot stream.
    const floor = (set: FileSet, run: number) => () =>
      each(set.count, CONCURRENCY, (i) =>
        again(async () => {
          const got = await a.send("GET", `/${nameOf(set, i)}`);
          const put = await b.send("PUT", `/run-${run}/${nameOf(set, i)}`, {
            body: got.body!,
            headers: { "content-length": got.headers.get("content-length")! },
          });
          await put.arrayBuffer();
        }),
      );
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
    // Clients that count every HTTP request they send (what the check and the no-op sync cost).
    const counter = { n: 0 };
    const countedSource = countingClient(p1, counter);
    const countedDestination = countingClient(p2, counter);
    const counted = async (fn: () => Promise<unknown>) => {
      counter.n = 0;
      const { ms } = await timed(fn);
      return { ms, calls: counter.n };
    };
    const calls: Record<string, number[]> = { list: [], check: [], "noop-small-list": [], "noop-small": [], "noop-check": [] };
    const measure = (name: string, fn: () => Promise<unknown>) =>
      cases.run(name, async () => {
        const { ms, calls: n } = await counted(fn);
        calls[name]!.push(n);
        return ms;
      });
    const listBoth = (prefixA: string, prefixB: string) => () =>
      Promise.all([listAll(countedSource, prefixA), listAll(countedDestination, prefixB)]);
    const compare = async () => {
      const report = await checkPeers(countedSource, countedDestination, { prefix: "check" });
      if (report.identical !== check) throw new Error(`check found ${report.identical} identical of ${check}`);
    };
    // A sync with nothing to do: everything identical, so it must read the two listings and stop.
    const noop = (prefix: string, as: string, count: number) => async () => {
      const report = await syncPeers(countedSource, countedDestination, { prefix, as, mode: "pull", concurrency: CONCURRENCY });
      if (report.identical !== count || report.copied !== 0 || report.failed.length > 0) {
        throw new Error(`the second sync of ${prefix} found ${report.identical} identical of ${count} and copied ${report.copied}`);
      }
    };
    // The small files synced by the first pull above: their second sync.
    const syncedSmall = `pull-0/${small.label}`;
    // Warm the listing paths (the first pages of a prefix are slower), untimed.
    await listBoth("check/", "check/")();
    await listBoth(`${small.label}/`, `${syncedSmall}/`)();
    for (let i = 0; i < ctx.runs; i++) {
      await measure("list", listBoth("check/", "check/"));
      await measure("check", compare);
      await measure("noop-check", noop("check", "check", check));
      await measure("noop-small-list", listBoth(`${small.label}/`, `${syncedSmall}/`));
      await measure("noop-small", noop(small.label, syncedSmall, small.count));
      ctx.log(
        `  check run ${i + 1}: list ${cases.last("list")} ms (${calls.list!.at(-1)} calls), check ${cases.last("check")} ms (${calls.check!.at(-1)} calls), ` +
          `sync with nothing to do ${cases.last("noop-check")} ms (${calls["noop-check"]!.at(-1)} calls); ` +
          `second sync of ${small.count}: list ${cases.last("noop-small-list")} ms (${calls["noop-small-list"]!.at(-1)} calls), sync ${cases.last("noop-small")} ms (${calls["noop-small"]!.at(-1)} calls)`,
      );
    }
    // Call counts as cases of their own, complete only if every timed run was.
    const callCase = (name: string) => {
      const runs = cases.of(name);
      return runs ? calls[name] : undefined;
    };

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
            target: { kind: "ratio-min", value: 1.0 },
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
          }),
          callRow(`HTTP requests of the check of ${check} identical files`, callCase("check"), callCase("list"), check),
          cases.row({
            case: `second sync of ${small.count} × ${small.size / 1024} KiB just synced (nothing to do)`,
            unit: "ms",
            of: "noop-small",
            floor: { case: "listing both sides, page by page", of: "noop-small-list" },
            target: { kind: "ratio-max", value: 1.2 },
          }),
          callRow(
            `HTTP requests of the second sync of ${small.count} files (nothing to do)`,
            callCase("noop-small"),
            callCase("noop-small-list"),
            small.count,
          ),
          cases.row({
            case: `sync of ${check} identical files (nothing to do)`,
            unit: "ms",
            of: "noop-check",
            floor: { case: "listing both sides, page by page", of: "list" },
            target: { kind: "ratio-max", value: 1.2 },
          }),
          callRow(`HTTP requests of the sync of ${check} identical files (nothing to do)`, callCase("noop-check"), callCase("list"), check),
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

/** Every page of a peer's listing under `prefix`, as the check reads them (1000 a page). */
async function listAll(peer: PeerClient, prefix: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await peer.listFiles({ prefix, cursor, limit: 1000 });
    cursor = page.cursor ?? undefined;
  } while (cursor);
}

/** A client of `worker` over `nodeFetch` that adds one to `counter.n` per HTTP request sent. */
function countingClient(worker: RunningWorker, counter: { n: number }): PeerClient {
  return new PeerClient({
    url: worker.url,
    token: worker.token,
    name: worker.name,
    fetch: (url: URL, init: FetchInit) => {
      counter.n++;
      return nodeFetch(url, init);
    },
  });
}

/**
 * HTTP requests of an operation on `files` names a side, beside those of listing both sides.
 * Target: the listing pages of 1,000 names, not the file count — ⌈files / 1000⌉ a side, plus
 * one a side for a last page that comes back empty.
 */
function callRow(name: string, runs: number[] | undefined, floorRuns: number[] | undefined, files: number): Row[] {
  if (!runs || !floorRuns) return [];
  return [
    row({
      workload: "sync",
      case: name,
      unit: "calls",
      runs,
      floor: { case: "requests of listing both sides through the API", runs: floorRuns },
      target: { kind: "max", value: 2 * (Math.ceil(files / 1000) + 1) },
      note: `${files} files a side: the requests must follow pages of 1,000 names, not the file count`,
    }),
  ];
}
