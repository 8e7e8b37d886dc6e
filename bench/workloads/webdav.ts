/**
 * WebDAV's PUT and GET of one big file against the API's own PUT and GET on the same peer, sent
 * by the same client (`PeerClient.send` over `nodeFetch`) from the same file on disk. The PUT
 * with a length is the path Cyberduck, rclone and davfs2 take; the chunked PUT (no length) is
 * Finder's, stored in 8 MiB multipart parts.
 */
import { drain, fileStream, makeTestFile } from "../lib/files";
import { Cases } from "../lib/cases";
import { MiB, mbps, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { startPeers } from "../lib/workers";
import { benchClient } from "./files";

export const webdav: Workload = async (ctx) => {
  const [worker] = await startPeers(["peer-webdav"], ctx.dir);
  const peer = benchClient(ctx, worker!.url, worker!.token, "peer");
  const file = await makeTestFile(ctx.dir, `webdav-${ctx.sizes.upload}.bin`, ctx.sizes.upload);
  const size = `${file.size / MiB} MiB`;
  const cases = new Cases("webdav", ctx.runs);
  const rate = (fn: () => Promise<unknown>) => async () => mbps(file.size, (await timed(fn)).ms);
  const davPut = async (name: string, withLength: boolean) => {
    const headers: Record<string, string> = withLength ? { "content-length": String(file.size) } : {};
    await (await peer.send("PUT", `/dav/${name}`, { body: fileStream(file), headers })).arrayBuffer();
  };
  const get = async (path: string) => {
    const bytes = await drain((await peer.send("GET", path)).body!);
    if (bytes !== file.size) throw new Error(`GET ${path} returned ${bytes} bytes, not ${file.size}`);
  };
  try {
    // Warm both paths (the first request compiles the script, the first DAV write wakes its Durable Object), untimed.
    await peer.putFile("warm", new Uint8Array(1024));
    await (await peer.send("PUT", "/dav/warm", { body: new Uint8Array(1024), headers: { "content-length": "1024" } })).arrayBuffer();
    for (let i = 0; i < ctx.runs; i++) {
      // Interleaved, so drift hits every case alike.
      await cases.run(
        "api-put",
        rate(() => peer.putFile("api.bin", fileStream(file), { size: file.size })),
      );
      await cases.run(
        "dav-put",
        rate(() => davPut("dav.bin", true)),
      );
      await cases.run(
        "dav-chunked",
        rate(() => davPut("chunked.bin", false)),
      );
      await cases.run(
        "api-get",
        rate(() => get("/api/files/api.bin")),
      );
      await cases.run(
        "dav-get",
        rate(() => get("/dav/api.bin")),
      );
      const names = ["api-put", "dav-put", "dav-chunked", "api-get", "dav-get"];
      ctx.log(`  webdav run ${i + 1}: ${names.map((n) => `${n} ${cases.last(n)}`).join(", ")} MB/s`);
    }
  } finally {
    await worker!.stop();
  }
  const target = { kind: "ratio-min", value: 0.9 } as const;
  const apiPut = { case: `API PUT of ${size} (no checksum sent: the peer hashes while storing)`, of: "api-put" };
  return {
    rows: [
      ...cases.row({ case: `WebDAV PUT of ${size} with Content-Length`, unit: "MB/s", of: "dav-put", floor: apiPut, target }),
      ...cases.row({
        case: `WebDAV PUT of ${size}, chunked (no length, as Finder sends)`,
        unit: "MB/s",
        of: "dav-chunked",
        floor: apiPut,
        target,
        note: "stored in 8 MiB multipart parts, one in memory at a time",
      }),
      ...cases.row({
        case: `WebDAV GET of ${size}`,
        unit: "MB/s",
        of: "dav-get",
        floor: { case: `API GET of ${size}`, of: "api-get" },
        target,
      }),
    ],
    skipped: cases.skipped(),
  };
};
