/**
 * Upload and download of one big file: edgepeer's PUT/GET next to a bare worker doing only
 * `env.FILES.put(key, request.body)` / returning `object.body`, both sent by the same client
 * code (`PeerClient`) over the same fetch, from the same file on disk.
 */
import { PeerClient } from "../../src/client/client";
import { fileSource } from "../../src/client/node";
import { type TestFile, drain, fileStream, makeTestFile } from "../lib/files";
import { row } from "../lib/rows";
import { MiB, mbps, timed } from "../lib/stats";
import type { BenchContext, Row, Workload } from "../lib/types";
import { startFloor, startPeers } from "../lib/workers";

const label = (size: number) => `${size / MiB} MiB`;

/** A bare PUT through the client's own transport: same headers, same streaming. */
export async function floorPut(floor: PeerClient, key: string, file: TestFile, sha256?: string): Promise<void> {
  const headers: Record<string, string> = { "content-length": String(file.size) };
  if (sha256) headers["x-content-sha256"] = sha256;
  const response = await floor.send("PUT", `/${key}`, { body: fileStream(file), headers });
  await response.arrayBuffer();
}

export async function floorGet(floor: PeerClient, key: string): Promise<number> {
  return drain((await floor.send("GET", `/${key}`)).body!);
}

/** Clients of one run: the quick bench lowers the multipart threshold so multipart still runs. */
export function peerClient(ctx: BenchContext, url: string, token: string | undefined, name: string): PeerClient {
  return new PeerClient({ url, token, name, ...(ctx.quick && { multipartThreshold: 4 * MiB, partSize: 5 * MiB }) });
}

async function setup(ctx: BenchContext, tag: string) {
  const [floorWorker, [peerWorker]] = await Promise.all([startFloor("r2", `floor-${tag}`, ctx.dir), startPeers([`peer-${tag}`], ctx.dir)]);
  const file = await makeTestFile(ctx.dir, `upload-${ctx.sizes.upload}.bin`, ctx.sizes.upload);
  return {
    file,
    floor: new PeerClient({ url: floorWorker.url, name: "floor" }),
    peer: peerClient(ctx, peerWorker!.url, peerWorker!.token, "peer"),
    stop: () => Promise.all([floorWorker.stop(), peerWorker!.stop()]),
  };
}

export const upload: Workload = async (ctx) => {
  const { file, floor, peer, stop } = await setup(ctx, "upload");
  const size = label(file.size);
  const runs = { bare: [] as number[], bareSha: [] as number[], fast: [] as number[], tee: [] as number[], client: [] as number[] };
  try {
    // Warm both workers (first request compiles the script) with a tiny body, untimed.
    const tiny = new Uint8Array(1024);
    await (await floor.send("PUT", "/warm", { body: tiny, headers: { "content-length": "1024" } })).arrayBuffer();
    await peer.putFile("warm", tiny);
    for (let i = 0; i < ctx.runs; i++) {
      // Interleaved, so drift (page cache, disk) hits every case alike.
      runs.bare.push(mbps(file.size, (await timed(() => floorPut(floor, "bare", file))).ms));
      runs.bareSha.push(mbps(file.size, (await timed(() => floorPut(floor, "bare-sha", file, file.sha256))).ms));
      runs.fast.push(mbps(file.size, (await timed(() => peer.putFile("fast", fileStream(file), { size: file.size, sha256: file.sha256 }))).ms));
      runs.tee.push(mbps(file.size, (await timed(() => peer.putFile("tee", fileStream(file), { size: file.size }))).ms));
      runs.client.push(mbps(file.size, (await timed(async () => peer.upload("client", await fileSource(file.path), { sha256: file.sha256 }))).ms));
      ctx.log(`  upload run ${i + 1}: bare ${runs.bare.at(-1)!.toFixed(1)}, bare+sha ${runs.bareSha.at(-1)!.toFixed(1)}, fast ${runs.fast.at(-1)!.toFixed(1)}, tee ${runs.tee.at(-1)!.toFixed(1)}, client ${runs.client.at(-1)!.toFixed(1)} MB/s`);
    }
  } finally {
    await stop();
  }
  const bare = { case: `bare put(key, request.body)`, runs: runs.bare };
  const parts = peer.multipartThreshold < file.size ? `multipart, ${peer.partSize / MiB} MiB parts × ${peer.partConcurrency} at once` : "one PUT";
  const rows: Row[] = [
    row({ workload: "upload", case: `PUT ${size} with X-Content-SHA256 (R2 verifies)`, unit: "MB/s", runs: runs.fast, floor: bare, target: { kind: "ratio-min", value: 0.9 } }),
    row({ workload: "upload", case: `PUT ${size} without checksum (peer tees into a DigestStream)`, unit: "MB/s", runs: runs.tee, floor: bare, target: { kind: "ratio-min", value: 0.9 } }),
    row({ workload: "upload", case: `client upload() of ${size} with SHA-256, as the CLI (${parts})`, unit: "MB/s", runs: runs.client, floor: bare, target: { kind: "ratio-min", value: 0.9 } }),
    row({ workload: "upload", case: `PUT ${size} with X-Content-SHA256, against a bare put with the sha256 option`, unit: "MB/s", runs: runs.fast, floor: { case: "bare put(key, body, {sha256})", runs: runs.bareSha }, note: "like for like: both make R2 verify the digest" }),
    row({ workload: "upload", case: `bare put with the sha256 option (R2's own cost of verifying)`, unit: "MB/s", runs: runs.bareSha, floor: bare }),
  ];
  return { rows };
};

export const download: Workload = async (ctx) => {
  const { file, floor, peer, stop } = await setup(ctx, "download");
  const size = label(file.size);
  const runs = { bare: [] as number[], withSha: [] as number[], sidecar: [] as number[] };
  try {
    await floorPut(floor, "bare", file);
    await peer.putFile("with-sha", fileStream(file), { size: file.size, sha256: file.sha256 });
    await peer.putFile("sidecar", fileStream(file), { size: file.size });
    const get = async (name: string) => {
      const download = await peer.getFile(name);
      const bytes = await drain(download.body);
      if (bytes !== file.size) throw new Error(`download of ${name} returned ${bytes} bytes, not ${file.size}`);
    };
    // One untimed pass: the first request of each path pays for compiling and opening things.
    await floorGet(floor, "bare");
    await get("with-sha");
    await get("sidecar");
    for (let i = 0; i < ctx.runs; i++) {
      runs.bare.push(mbps(file.size, (await timed(() => floorGet(floor, "bare"))).ms));
      runs.withSha.push(mbps(file.size, (await timed(() => get("with-sha"))).ms));
      runs.sidecar.push(mbps(file.size, (await timed(() => get("sidecar"))).ms));
      ctx.log(`  download run ${i + 1}: bare ${runs.bare.at(-1)!.toFixed(0)}, edgepeer ${runs.withSha.at(-1)!.toFixed(0)}, sidecar ${runs.sidecar.at(-1)!.toFixed(0)} MB/s`);
    }
  } finally {
    await stop();
  }
  const bare = { case: "bare worker returning object.body", runs: runs.bare };
  return {
    rows: [
      row({ workload: "download", case: `GET ${size} (uploaded with its SHA-256)`, unit: "MB/s", runs: runs.withSha, floor: bare, target: { kind: "ratio-min", value: 0.9 } }),
      row({ workload: "download", case: `GET ${size} (SHA-256 in the KV sidecar: one more KV read)`, unit: "MB/s", runs: runs.sidecar, floor: bare, target: { kind: "ratio-min", value: 0.9 } }),
    ],
  };
};
