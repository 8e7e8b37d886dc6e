/**
 * How a peer runs under Miniflare: the one definition shared by the local network
 * (scripts/network.ts) and the bench (bench/lib/workers.ts), so the bench measures exactly
 * what `npm start` runs, and its floors differ only in the script.
 */
import { join } from "node:path";
import type { MiniflareOptions } from "miniflare";
import type { WorkerBundle } from "./build-worker";

/** One peer of a local network. */
export interface PeerSpec {
  name: string;
  url: string;
  port: number;
  token: string;
}

/**
 * What every worker of a local run shares: address, persistence on disk (R2, KV and Durable
 * Objects under `persistRoot`), compatibility, no Request.cf download.
 */
export function runnerOptions(bundle: WorkerBundle, port: number, persistRoot: string, host = "127.0.0.1") {
  return {
    host,
    port,
    cf: false,
    defaultPersistRoot: persistRoot,
    r2Persist: true,
    kvPersist: true,
    durableObjectsPersist: true,
    modules: true,
    compatibilityDate: bundle.compatibilityDate,
    compatibilityFlags: bundle.compatibilityFlags,
  } as const;
}

/** Storage name of a binding: `edgepeer-<peer>` for the main ones, `edgepeer-<peer>-<binding>` for any other. */
const storageName = (peer: string, binding: string, main: string) =>
  `edgepeer-${peer}${binding === main ? "" : `-${binding.toLowerCase()}`}`;

/** A queue of wrangler.toml's default peer ("edgepeer-local-…") as `peer`'s own. */
const queueName = (peer: string, queue: string) => queue.replace(/^edgepeer-local\b/, `edgepeer-${peer}`);

/**
 * The bundled worker as `peer`: its own R2 and KV under `dir/<name>`, its token, and `PEERS`
 * listing every other peer of `all`. `vars` override the bundle's vars (profiling, tests).
 */
export function peerOptions(
  bundle: WorkerBundle,
  peer: PeerSpec,
  all: readonly PeerSpec[],
  dir: string,
  host = "127.0.0.1",
  vars: Record<string, string> = {},
): MiniflareOptions {
  const others = Object.fromEntries(all.filter((p) => p !== peer).map((p) => [p.name, p.url]));
  return {
    ...runnerOptions(bundle, peer.port, join(dir, peer.name), host),
    scriptPath: bundle.scriptPath,
    modulesRoot: bundle.dir,
    modulesRules: bundle.modulesRules,
    r2Buckets: Object.fromEntries(bundle.r2Bindings.map((b) => [b, storageName(peer.name, b, "FILES")])),
    kvNamespaces: Object.fromEntries(bundle.kvBindings.map((b) => [b, storageName(peer.name, b, "KV")])),
    durableObjects: bundle.durableObjects,
    // Each peer's queues are its own (one Miniflare per peer), named after it as when deployed.
    queueProducers: Object.fromEntries(
      Object.entries(bundle.queueProducers).map(([binding, q]) => [binding, { ...q, queueName: queueName(peer.name, q.queueName) }]),
    ),
    queueConsumers: Object.fromEntries(
      Object.entries(bundle.queueConsumers).map(([queue, settings]) => [
        queueName(peer.name, queue),
        { ...settings, ...(settings.deadLetterQueue && { deadLetterQueue: queueName(peer.name, settings.deadLetterQueue) }) },
      ]),
    ),
    bindings: {
      ...bundle.vars,
      PEER_NAME: peer.name,
      PEER_TOKEN: peer.token,
      AUTH: "token",
      PEERS: JSON.stringify(others),
      PUBLIC_URL: peer.url,
      ...vars,
    },
  };
}
