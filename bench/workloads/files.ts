/**
 * Upload and download of one big file: edgepeer's PUT/GET next to a bare worker doing only
 * `env.FILES.put(key, request.body)` / returning `object.body`, both sent by the same client
 * code (`PeerClient`) over the same fetch, from the same file on disk.
 */
import { PeerClient } from "../../src/client/client";
import { fileSource, nodeFetch } from "../../src/client/node";
import { type TestFile, drain, fileStream, makeTestFile } from "../lib/files";
import { Cases } from "../lib/cases";
import { row } from "../lib/rows";
import { MiB, mbps, timed } from "../lib/stats";
import type { BenchContext, Workload } from "../lib/types";
import { type RunningWorker, startAll, startFloor, startPeers } from "../lib/workers";

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

/**
 * The client of every request the bench times, edgepeer's and the floors' alike: the project's
 * `PeerClient` over `nodeFetch` (node:http), as the CLI and the transfer script use it. The
 * quick bench lowers the multipart threshold so that multipart still runs on tiny files.
 */
export function benchClient(ctx: BenchContext, url: string, token: string | undefined, name: string): PeerClient {
  return new PeerClient({ url, token, name, fetch: nodeFetch, ...(ctx.quick && { multipartThreshold: 4 * MiB, partSize: 5 * MiB }) });
}

/** Two peers `<prefix>-peer1` (the source) and `<prefix>-peer2` that know one another, a client for each, and one `stop`. */
export async function startPeerPair(ctx: BenchContext, prefix: string) {
  const [p1, p2] = (await startPeers([`${prefix}-peer1`, `${prefix}-peer2`], ctx.dir)) as [RunningWorker, RunningWorker];
  return {
    p1,
    p2,
    source: benchClient(ctx, p1.url, p1.token, p1.name),
    dest: benchClient(ctx, p2.url, p2.token, p2.name),
    stop: () => Promise.all([p1.stop(), p2.stop()]),
  };
}

async function setup(ctx: BenchContext, tag: string) {
  const [floorWorker, [peerWorker]] = (await startAll<RunningWorker | RunningWorker[]>([
    startFloor("r2", `floor-${tag}`, ctx.dir),
    startPeers([`peer-${tag}`], ctx.dir),
  ])) as [RunningWorker, RunningWorker[]];
  const file = await makeTestFile(ctx.dir, `upload-${ctx.sizes.upload}.bin`, ctx.sizes.upload);
  return {
    file,
    floor: benchClient(ctx, floorWorker.url, undefined, "floor"),
    peer: benchClient(ctx, peerWorker!.url, peerWorker!.token, "peer"),
    stop: () => Promise.all([floorWorker.stop(), peerWorker!.stop()]),
  };
}

export const upload: Workload = async (ctx) => {
  const { file, floor, peer, stop } = await setup(ctx, "upload");
  const size = label(file.size);
  const cases = new Cases("upload", ctx.runs);
  const rate = (fn: () => Promise<unknown>) => async () => mbps(file.size, (await timed(fn)).ms);
  try {
    // Warm both workers (first request compiles the script) with a tiny body, untimed.
    const tiny = new Uint8Array(1024);
    await (await floor.send("PUT", "/warm", { body: tiny, headers: { "content-length": "1024" } })).arrayBuffer();
    await peer.putFile("warm", tiny);
    for (let i = 0; i < ctx.runs; i++) {
      // Interleaved, so drift (page cache, disk, other load) hits every case alike.
      await cases.run(
        "bare",
        rate(() => floorPut(floor, "bare", file)),
      );
      await cases.run(
        "bare-sha",
        rate(() => floorPut(floor, "bare-sha", file, file.sha256)),
      );
      await cases.run(
        "fast",
        rate(() => peer.putFile("fast", fileStream(file), { size: file.size, sha256: file.sha256 })),
      );
      await cases.run(
        "tee",
        rate(() => peer.putFile("tee", fileStream(file), { size: file.size })),
      );
      await cases.run(
        "client",
        rate(async () => peer.upload("client", await fileSource(file.path), { sha256: file.sha256 })),
      );
      // The same client's multipart upload against the bare worker's bare multipart routes.
      await cases.run(
        "bare-multipart",
        rate(async () => floor.upload("bare-multipart", await fileSource(file.path), { sha256: file.sha256 })),
      );
      const names = ["bare", "bare-sha", "fast", "tee", "client", "bare-multipart"];
      ctx.log(`  upload run ${i + 1}: ${names.map((n) => `${n} ${cases.last(n)}`).join(", ")} MB/s`);
    }
  } finally {
    await stop();
  }
  const bare = { case: "bare put(key, request.body)", of: "bare" };
  const target = { kind: "ratio-min", value: 0.9 } as const;
  const parts =
    peer.multipartThreshold < file.size ? `multipart, ${peer.partSize / MiB} MiB parts × ${peer.partConcurrency} at once` : "one PUT";
  return {
    rows: [
      ...cases.row({ case: `PUT ${size} with X-Content-SHA256 (R2 verifies)`, unit: "MB/s", of: "fast", floor: bare, target }),
      ...cases.row({ case: `PUT ${size} without checksum (the peer hashes while storing)`, unit: "MB/s", of: "tee", floor: bare, target }),
      ...cases.row({
        case: `client upload() of ${size} with SHA-256, as the CLI (${parts})`,
        unit: "MB/s",
        of: "client",
        floor: bare,
        target,
      }),
      ...cases.row({
        case: `PUT ${size} with X-Content-SHA256, against a bare put with the sha256 option`,
        unit: "MB/s",
        of: "fast",
        floor: { case: "bare put(key, body, {sha256})", of: "bare-sha" },
        note: "like for like: both make R2 verify the digest",
      }),
      ...cases.row({ case: "bare put with the sha256 option (R2's own cost of verifying)", unit: "MB/s", of: "bare-sha", floor: bare }),
      ...cases.row({
        case: `client upload() of ${size}, against the same client's multipart upload to a bare worker`,
        unit: "MB/s",
        of: "client",
        floor: { case: "bare createMultipartUpload / uploadPart / complete", of: "bare-multipart" },
        note: "like for like: the platform's multipart on both sides",
      }),
      ...cases.row({
        case: `bare multipart upload (${parts}): the platform's own cost of multipart`,
        unit: "MB/s",
        of: "bare-multipart",
        floor: bare,
      }),
    ],
    skipped: cases.skipped(),
  };
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
      ctx.log(
        `  download run ${i + 1}: bare ${runs.bare.at(-1)!.toFixed(0)}, edgepeer ${runs.withSha.at(-1)!.toFixed(0)}, sidecar ${runs.sidecar.at(-1)!.toFixed(0)} MB/s`,
      );
    }
  } finally {
    await stop();
  }
  const bare = { case: "bare worker returning object.body", runs: runs.bare };
  return {
    rows: [
      row({
        workload: "download",
        case: `GET ${size} (uploaded with its SHA-256)`,
        unit: "MB/s",
        runs: runs.withSha,
        floor: bare,
        target: { kind: "ratio-min", value: 0.9 },
      }),
      row({
        workload: "download",
        case: `GET ${size} (SHA-256 in the KV sidecar: one more KV read)`,
        unit: "MB/s",
        runs: runs.sidecar,
        floor: bare,
        target: { kind: "ratio-min", value: 0.9 },
      }),
    ],
  };
};
