/**
 * Runs edgepeer peers and the bare "floor" workers side by side under the same runner the
 * local network uses (scripts/network.ts): one Miniflare (one workerd) per worker, R2 and KV
 * persisted on disk, 127.0.0.1 ports, the same compatibility date and flags. Only the
 * script differs — the bundled peer, or a few lines of `bench/floors/*.js`.
 */
import { randomBytes } from "node:crypto";
import { cp } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { type WorkerBundle, buildWorker } from "../../scripts/build-worker";
import { peerOptions, runnerOptions } from "../../scripts/peer-options";

const FLOORS = join(dirname(fileURLToPath(import.meta.url)), "../floors");

/** A running worker: its base URL, token (peers only) and how to stop it. */
export interface RunningWorker {
  name: string;
  url: string;
  token?: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released for Miniflare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

let bundle: Promise<WorkerBundle & { id: string }> | undefined;

/**
 * The peer bundle of the sources as they are when the bench starts (built through the
 * network's own cache), copied into the bench's scratch directory: every workload runs the
 * same code even if the sources change meanwhile and the cache drops that bundle.
 */
export function peerBundle(scratch: string): Promise<WorkerBundle & { id: string }> {
  bundle ??= (async () => {
    const built = await buildWorker();
    const dir = join(scratch, "peer-bundle");
    await cp(built.dir, dir, { recursive: true });
    // The cache directory's name is the hash of the sources it was built from.
    return { ...built, dir, scriptPath: join(dir, "index.js"), id: basename(built.dir) };
  })();
  return bundle;
}

async function started(name: string, mf: Miniflare, url: string, token?: string): Promise<RunningWorker> {
  await mf.ready;
  return { name, url, token, stop: () => mf.dispose() };
}

/**
 * Starts `names.length` edgepeer peers that know one another (PEERS), exactly as
 * `npm start` configures them, with data under `dir/<name>`. `extra` is for profiling:
 * a V8 inspector port (one peer only), vars that override the defaults.
 */
export async function startPeers(
  names: string[],
  dir: string,
  extra: { inspectorPort?: number; bindings?: Record<string, string> } = {},
): Promise<RunningWorker[]> {
  const b = await peerBundle(dir);
  const specs = await Promise.all(
    names.map(async (name) => {
      const port = await freePort();
      return { name, port, url: `http://127.0.0.1:${port}`, token: randomBytes(32).toString("hex") };
    }),
  );
  return Promise.all(
    specs.map((peer) => {
      const mf = new Miniflare({
        ...peerOptions(b, peer, specs, dir, "127.0.0.1", extra.bindings),
        ...(extra.inspectorPort && { inspectorPort: extra.inspectorPort }),
      });
      return started(peer.name, mf, peer.url, peer.token);
    }),
  );
}

/** Starts a bare floor worker (`bench/floors/<kind>.js`) with one R2 bucket `FILES` and one KV namespace `KV`. */
export async function startFloor(kind: "r2" | "kv", name: string, dir: string): Promise<RunningWorker> {
  const b = await peerBundle(dir);
  const port = await freePort();
  const mf = new Miniflare({
    ...runnerOptions(b, port, join(dir, name)),
    scriptPath: join(FLOORS, `${kind}.js`),
    r2Buckets: { FILES: `floor-${name}` },
    kvNamespaces: { KV: `floor-${name}` },
  });
  return started(name, mf, `http://127.0.0.1:${port}`);
}

/**
 * Starts workers together; if any fails to start, stops the ones that did and rethrows, so a
 * failed workload leaves no workerd behind.
 */
export async function startAll<T extends RunningWorker | RunningWorker[]>(starts: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    const up = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value].flat() : []));
    await Promise.allSettled(up.map((w) => w.stop()));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
