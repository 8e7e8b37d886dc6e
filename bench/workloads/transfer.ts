/**
 * Peer → peer copy of one big file, pull and relay, next to the bare platform doing the same:
 * a bare worker's GET piped by the client into another bare worker's PUT (the floor), and,
 * for reference, a bare worker fetching the other's GET into its own put (a bare pull).
 */
import { transferFile } from "../../src/client/transfer";
import { makeTestFile, fileStream } from "../lib/files";
import { Cases } from "../lib/cases";
import { MiB, mbps, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { type RunningWorker, startAll, startFloor, startPeers } from "../lib/workers";
import { benchClient, floorPut } from "./files";

export const transfer: Workload = async (ctx) => {
  const [floorA, floorB, peers] = (await startAll<RunningWorker | RunningWorker[]>([
    startFloor("r2", "floor-a", ctx.dir),
    startFloor("r2", "floor-b", ctx.dir),
    startPeers(["peer1", "peer2"], ctx.dir),
  ])) as [RunningWorker, RunningWorker, RunningWorker[]];
  const [p1, p2] = peers as [RunningWorker, RunningWorker];
  const stop = () => Promise.all([floorA.stop(), floorB.stop(), p1.stop(), p2.stop()]);
  const a = benchClient(ctx, floorA.url, undefined, "floor-a");
  const b = benchClient(ctx, floorB.url, undefined, "floor-b");
  const source = benchClient(ctx, p1.url, p1.token, "peer1");
  const destination = benchClient(ctx, p2.url, p2.token, "peer2");
  const cases = new Cases("transfer", ctx.runs);
  let size = 0;
  try {
    const file = await makeTestFile(ctx.dir, `transfer-${ctx.sizes.transfer}.bin`, ctx.sizes.transfer);
    size = file.size;
    ctx.log(`  transfer: seeding ${size / MiB} MiB on both sources…`);
    await floorPut(a, "big", file);
    await source.putFile("big", fileStream(file), { size, sha256: file.sha256 });

    const floorRelay = async () => {
      const got = await a.send("GET", "/big");
      const put = await b.send("PUT", "/big", { body: got.body!, headers: { "content-length": got.headers.get("content-length")! } });
      await put.arrayBuffer();
    };
    const barePull = async () => {
      const put = await b.send("POST", `/pulled?from=${encodeURIComponent(`${floorA.url}/big`)}`);
      await put.arrayBuffer();
    };
    const copy = async (mode: "pull" | "relay") => {
      const result = await transferFile(source, destination, "big", { mode, as: `copy-${mode}` });
      if (result.size !== size) throw new Error(`${mode} copied ${result.size} bytes, not ${size}`);
    };
    const rate = (fn: () => Promise<unknown>) => async () => mbps(size, (await timed(fn)).ms);
    for (let i = 0; i < ctx.runs; i++) {
      await cases.run("floor", rate(floorRelay));
      await cases.run("bare-pull", rate(barePull));
      await cases.run(
        "pull",
        rate(() => copy("pull")),
      );
      await cases.run(
        "relay",
        rate(() => copy("relay")),
      );
      ctx.log(`  transfer run ${i + 1}: ${["floor", "bare-pull", "pull", "relay"].map((n) => `${n} ${cases.last(n)}`).join(", ")} MB/s`);
    }
  } finally {
    await stop();
  }
  const label = `${size / MiB} MiB`;
  const floor = { case: "bare GET piped into a bare PUT (two bare workers)", of: "floor" };
  return {
    rows: [
      ...cases.row({
        case: `pull ${label} peer1 → peer2 (signed link, peer2 fetches)`,
        unit: "MB/s",
        of: "pull",
        floor,
        target: { kind: "ratio-min", value: 1.0 },
      }),
      ...cases.row({
        case: `relay ${label} peer1 → peer2 through the client`,
        unit: "MB/s",
        of: "relay",
        floor,
        target: { kind: "ratio-min", value: 0.9 },
      }),
      ...cases.row({
        case: `pull ${label}, against a bare worker fetching the other's GET into its put`,
        unit: "MB/s",
        of: "pull",
        floor: { case: "bare server-side pull", of: "bare-pull" },
        note: "like for like: no client hop on either side",
      }),
    ],
    skipped: cases.skipped(),
  };
};
