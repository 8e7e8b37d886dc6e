/**
 * A zip of a folder (`GET /api/zip?prefix=`, written by the peer's own zip writer in the worker) against plain
 * GETs of the same files one after another, on the same peer, by the same client. The folder
 * is 8 files of an eighth of the upload size each (256 MiB in all in a full run).
 */
import { drain, fileStream, makeTestFile } from "../lib/files";
import { Cases } from "../lib/cases";
import { MiB, mbps, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { startPeers } from "../lib/workers";
import { benchClient } from "./files";

const FILES = 8;

export const zip: Workload = async (ctx) => {
  const [worker] = await startPeers(["peer-zip"], ctx.dir);
  const peer = benchClient(ctx, worker!.url, worker!.token, "peer");
  const each = Math.floor(ctx.sizes.upload / FILES);
  const file = await makeTestFile(ctx.dir, `zip-part-${each}.bin`, each);
  const total = each * FILES;
  const cases = new Cases("zip", ctx.runs);
  try {
    for (let i = 0; i < FILES; i++)
      await peer.upload(`zip/f${i}.bin`, { body: fileStream(file), size: file.size }, { sha256: file.sha256 });
    // Warm both paths (the first request compiles the script), untimed.
    await drain((await peer.zip({ prefix: "zip/" })).body);
    for (let i = 0; i < ctx.runs; i++) {
      // Interleaved, so drift hits both cases alike.
      await cases.run("get", async () => {
        const { ms } = await timed(async () => {
          for (let f = 0; f < FILES; f++) await drain((await peer.getFile(`zip/f${f}.bin`)).body);
        });
        return mbps(total, ms);
      });
      await cases.run("zip", async () => {
        let bytes = 0;
        const { ms } = await timed(async () => {
          const archive = await peer.zip({ prefix: "zip/" });
          bytes = await drain(archive.body);
          if (bytes !== archive.size) throw new Error(`the zip sent ${bytes} of its ${archive.size} bytes`);
        });
        // The rate of the files' bytes, so the zip's few headers do not flatter it.
        return mbps(total, ms);
      });
      ctx.log(`  zip run ${i + 1}: get ${cases.last("get")}, zip ${cases.last("zip")} MB/s`);
    }
  } finally {
    await worker!.stop();
  }
  const size = `${total / MiB} MiB`;
  return {
    rows: cases.row({
      case: `GET /api/zip of a folder of ${FILES} files, ${size}`,
      unit: "MB/s",
      of: "zip",
      floor: { case: `plain GETs of the same ${FILES} files`, of: "get" },
      target: { kind: "ratio-min", value: 0.8 },
      note: "the peer's zip writer, each entry's CRC-32 by workerd's native crc32",
    }),
    skipped: cases.skipped(),
  };
};
