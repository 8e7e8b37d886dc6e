/**
 * Peer → peer copy of one big file, pull and relay, next to the bare platform doing the same:
 * a bare worker's GET piped by the client into another bare worker's PUT (the floor), and,
 * for reference, a bare worker fetching the other's GET into its own put (a bare pull).
 */
import { PeerClient } from "../../src/client/client";
import { transferFile } from "../../src/client/transfer";
import { makeTestFile, fileStream } from "../lib/files";
import { row } from "../lib/rows";
import { MiB, mbps, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { startFloor, startPeers } from "../lib/workers";
import { floorPut, peerClient } from "./files";

export const transfer: Workload = async (ctx) => {
  const [floorA, floorB, peers] = await Promise.all([
    startFloor("r2", "floor-a", ctx.dir),
    startFloor("r2", "floor-b", ctx.dir),
    startPeers(["peer1", "peer2"], ctx.dir),
  ]);
  const [p1, p2] = peers as [(typeof peers)[0], (typeof peers)[0]];
  const stop = () => Promise.all([floorA.stop(), floorB.stop(), p1.stop(), p2.stop()]);
  const a = new PeerClient({ url: floorA.url, name: "floor-a" });
  const b = new PeerClient({ url: floorB.url, name: "floor-b" });
  const source = peerClient(ctx, p1.url, p1.token, "peer1");
  const destination = peerClient(ctx, p2.url, p2.token, "peer2");
  const runs = { floor: [] as number[], barePull: [] as number[], pull: [] as number[], relay: [] as number[] };
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
    for (let i = 0; i < ctx.runs; i++) {
      runs.floor.push(mbps(size, (await timed(floorRelay)).ms));
      runs.barePull.push(mbps(size, (await timed(barePull)).ms));
      runs.pull.push(mbps(size, (await timed(() => copy("pull"))).ms));
      runs.relay.push(mbps(size, (await timed(() => copy("relay"))).ms));
      ctx.log(`  transfer run ${i + 1}: bare GET→PUT ${runs.floor.at(-1)!.toFixed(1)}, bare pull ${runs.barePull.at(-1)!.toFixed(1)}, pull ${runs.pull.at(-1)!.toFixed(1)}, relay ${runs.relay.at(-1)!.toFixed(1)} MB/s`);
    }
  } finally {
    await stop();
  }
  const label = `${size / MiB} MiB`;
  const floor = { case: "bare GET piped into a bare PUT (two bare workers)", runs: runs.floor };
  return {
    rows: [
      row({ workload: "transfer", case: `pull ${label} peer1 → peer2 (signed link, peer2 fetches)`, unit: "MB/s", runs: runs.pull, floor, target: { kind: "ratio-min", value: 1.0 } }),
      row({ workload: "transfer", case: `relay ${label} peer1 → peer2 through the client`, unit: "MB/s", runs: runs.relay, floor, target: { kind: "ratio-min", value: 0.9 } }),
      row({ workload: "transfer", case: `pull ${label}, against a bare worker fetching the other's GET into its put`, unit: "MB/s", runs: runs.pull, floor: { case: "bare server-side pull", runs: runs.barePull }, note: "like for like: no client hop on either side" }),
    ],
  };
};
