/**
 * Outside anchors, information rather than targets (rclone's servers keep files on local disk,
 * not in R2): `edgepeer sync` peer → peer beside `rclone copy` of the same tree between two
 * `rclone serve webdav` servers, and `rclone copy` of 100 files from an `rclone serve webdav`
 * into a peer's WebDAV beside the same copy between two `rclone serve webdav`. rclone is
 * Debian's package; without it the workload says so and measures nothing.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { syncPeers } from "../../src/client/index";
import { Cases } from "../lib/cases";
import { MiB, timed } from "../lib/stats";
import type { Workload } from "../lib/types";
import { freePort } from "../lib/workers";
import { startPeerPair } from "./files";

const run = promisify(execFile);

/** An `rclone serve webdav` of `dir` on a free port; resolves once it answers. */
async function serveWebdav(dir: string): Promise<{ url: string; stop(): void }> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn("rclone", ["serve", "webdav", dir, "--addr", `127.0.0.1:${port}`], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(url, { method: "OPTIONS" }).then(
        () => true,
        () => false,
      )
    )
      return { url, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill();
  throw new Error("rclone serve webdav did not start");
}

/** `rclone copy` with the same parallelism as `edgepeer sync`'s default (4 at once). */
const rcloneCopy = (from: string, to: string, ...flags: string[]) =>
  run("rclone", ["copy", from, to, "--transfers", "4", "--checkers", "8", "--no-check-dest", ...flags], { maxBuffer: 16 * MiB });

/** An on-the-fly WebDAV remote of rclone at `url`. */
const remote = (url: string, extra = "") => `:webdav,url='${url}',vendor=other${extra}:`;

export const rclone: Workload = async (ctx) => {
  try {
    await run("rclone", ["version"]);
  } catch {
    return { rows: [], skipped: [{ workload: "rclone", reason: "rclone is not installed (apt-get install rclone)" }] };
  }
  const small = ctx.quick ? { count: 40, size: 4096 } : { count: 1000, size: 4096 };
  const big = ctx.quick ? { count: 2, size: 4 * MiB } : { count: 8, size: 64 * MiB };
  const dav = ctx.quick ? { count: 20, size: 64 * 1024 } : { count: 100, size: 64 * 1024 };
  const { p2, source, dest, stop } = await startPeerPair(ctx, "rclone");
  const cases = new Cases("rclone", ctx.runs);
  const servers: Array<{ stop(): void }> = [];
  try {
    // One tree on disk, uploaded to peer1 and served by rclone's first server.
    const tree = join(ctx.dir, "rclone-tree");
    for (const [label, set] of [
      ["small", small],
      ["big", big],
    ] as const) {
      await mkdir(join(tree, label), { recursive: true });
      for (let i = 0; i < set.count; i++) {
        const bytes = new Uint8Array(randomBytes(set.size));
        const name = `${label}/${String(i).padStart(5, "0")}.bin`;
        await writeFile(join(tree, name), bytes);
        await source.putFile(name, bytes);
      }
    }
    const davTree = join(ctx.dir, "rclone-dav-tree");
    await mkdir(davTree, { recursive: true });
    for (let i = 0; i < dav.count; i++) await writeFile(join(davTree, `${String(i).padStart(4, "0")}.bin`), randomBytes(dav.size));
    const a = await serveWebdav(tree);
    servers.push(a);
    const davSource = await serveWebdav(davTree);
    servers.push(davSource);

    for (let i = 0; i < ctx.runs; i++) {
      for (const label of ["small", "big"] as const) {
        await cases.run(
          `sync-${label}`,
          async () => (await timed(() => syncPeers(source, dest, { prefix: `${label}/`, as: `run${i}/${label}/` }))).ms / 1000,
        );
        const b = await serveWebdav(join(ctx.dir, `rclone-b-${label}-${i}`));
        servers.push(b);
        await cases.run(
          `rclone-${label}`,
          async () => (await timed(() => rcloneCopy(`${remote(a.url)}${label}`, `${remote(b.url)}${label}`))).ms / 1000,
        );
        b.stop();
      }
      const peerDav = `${p2.url}/dav/`;
      await cases.run(
        "dav-peer",
        async () =>
          (await timed(() => rcloneCopy(remote(davSource.url), `${remote(peerDav, `,bearer_token='${p2.token}'`)}dav-run${i}`))).ms / 1000,
      );
      const c = await serveWebdav(join(ctx.dir, `rclone-c-${i}`));
      servers.push(c);
      await cases.run(
        "dav-rclone",
        async () => (await timed(() => rcloneCopy(remote(davSource.url), `${remote(c.url)}dav-run${i}`))).ms / 1000,
      );
      c.stop();
      ctx.log(
        `  rclone run ${i + 1}: sync small ${cases.last("sync-small")} s vs rclone ${cases.last("rclone-small")} s; big ${cases.last("sync-big")} s vs ${cases.last("rclone-big")} s; ` +
          `copy into WebDAV: peer ${cases.last("dav-peer")} s vs rclone serve ${cases.last("dav-rclone")} s`,
      );
    }
  } finally {
    for (const s of servers) s.stop();
    await stop();
  }
  const anchor = "information: rclone's servers write to local disk, the peers to R2 under Miniflare";
  return {
    rows: [
      ...cases.row({
        case: `edgepeer sync peer → peer, ${small.count} × ${small.size / 1024} KiB`,
        unit: "s",
        of: "sync-small",
        floor: { case: "rclone copy between two rclone serve webdav (disk)", of: "rclone-small" },
        note: anchor,
      }),
      ...cases.row({
        case: `edgepeer sync peer → peer, ${big.count} × ${big.size / MiB} MiB`,
        unit: "s",
        of: "sync-big",
        floor: { case: "rclone copy between two rclone serve webdav (disk)", of: "rclone-big" },
        note: anchor,
      }),
      ...cases.row({
        case: `rclone copy of ${dav.count} × ${dav.size / 1024} KiB files from an rclone serve webdav into the peer's WebDAV`,
        unit: "s",
        of: "dav-peer",
        floor: { case: "the same rclone copy between two rclone serve webdav (disk)", of: "dav-rclone" },
        note: anchor,
      }),
    ],
    skipped: cases.skipped(),
  };
};
