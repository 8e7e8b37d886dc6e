/**
 * `npm start` — a local network of peers, each the bundled worker under Miniflare (one Node
 * process, one workerd per peer) on 127.0.0.1 from port 8787 up, with its own R2 and KV
 * persisted under `.peers/<name>/`, its own random token and `PEERS` listing the others.
 * Writes `.peers/network.json`; a restart keeps every file, key and token. A peer whose
 * workerd dies is restarted on its port with its data (said on stderr); one that keeps dying
 * stops the network with exit code 1.
 *
 * Miniflare fires no Cron Trigger by itself: the runner fires each peer's scheduled handler
 * (replication's reconciliation) every `--reconcile-every` seconds.
 *
 *   npm start -- [--peers N] [--port P] [--dir DIR] [--host H] [--var NAME=VALUE]… [--reconcile-every S] [--no-restart]
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import { type WorkerBundle, buildWorker } from "./build-worker";
import { type PeerSpec, peerOptions } from "./peer-options";
import { forgetRunner, reapLeftovers, recordRunner, workerdByPort } from "./runner-pids";

const USAGE = `usage: npm start -- [--peers N] [--port P] [--dir DIR] [--host H] [--var NAME=VALUE]…
  --peers N   how many peers (default 3): peer1 … peerN
  --port P    port of peer1; the others follow (default 8787)
  --dir DIR   where data and network.json live (default .peers)
  --host H    address to listen on (default 127.0.0.1)
  --var NAME=VALUE  set a var of every peer for this run, over wrangler.toml's
              (repeatable, as \`wrangler dev --var\`): --var STORAGE_LIMIT_MB=10
  --reconcile-every S  seconds between replication reconciliations (the Cron Trigger; default 60, 0 = never)
  --no-restart  a peer whose workerd dies stays down (said on stderr) — for fault drills
  --build-only  bundle the worker into the cache and exit (npm install does this)`;

/** Vars the runner sets per peer: one value for every peer would break the network. */
const PER_PEER_VARS = new Set(["PEER_NAME", "PEER_TOKEN", "PEERS", "PUBLIC_URL"]);

/** `--var NAME=VALUE` flags as vars; a malformed one or a per-peer var is a usage error. */
function parseVars(flags: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    const name = eq < 0 ? flag : flag.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) usageError(`--var takes NAME=VALUE, not "${flag}".`);
    if (PER_PEER_VARS.has(name)) usageError(`--var cannot set ${name}: the runner sets it for each peer.`);
    vars[name] = flag.slice(eq + 1);
  }
  return vars;
}

/** A peer restarted this often within a minute is not coming back: the network stops. */
const MAX_RESTARTS = 3;

function usageError(message: string): never {
  console.error(`error: ${message}\n${USAGE}`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        peers: { type: "string", default: "3" },
        port: { type: "string", default: "8787" },
        dir: { type: "string", default: process.env.EDGEPEER_DIR ?? ".peers" },
        host: { type: "string", default: "127.0.0.1" },
        var: { type: "string", multiple: true, default: [] },
        "reconcile-every": { type: "string", default: "60" },
        "no-restart": { type: "boolean", default: false },
        "build-only": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    usageError((err as Error).message);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = Number(parsed.peers);
  const port = Number(parsed.port);
  if (!Number.isInteger(count) || count < 1 || count > 64) usageError("--peers must be a whole number from 1 to 64.");
  if (!Number.isInteger(port) || port < 1 || port + count - 1 > 65535) usageError("--port must be a free port number (1–65535).");
  const vars = parseVars(parsed.var);
  const reconcileEvery = Number(parsed["reconcile-every"]);
  if (!Number.isFinite(reconcileEvery) || reconcileEvery < 0) usageError("--reconcile-every must be a number of seconds (0 = never).");
  return {
    count,
    port,
    dir: resolve(parsed.dir),
    host: parsed.host,
    vars,
    buildOnly: parsed["build-only"],
    reconcileEvery,
    restart: !parsed["no-restart"],
  };
}

/** Tokens of an earlier run, by peer name, so a restart keeps them. */
async function previousTokens(file: string): Promise<Map<string, string>> {
  try {
    const data = JSON.parse(await readFile(file, "utf8")) as { peers?: { name?: unknown; token?: unknown }[] };
    return new Map(
      (data.peers ?? []).flatMap((p) => (typeof p.name === "string" && typeof p.token === "string" ? [[p.name, p.token]] : [])),
    );
  } catch {
    return new Map();
  }
}

function peerSpecs(count: number, port: number, host: string, tokens: Map<string, string>): PeerSpec[] {
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return Array.from({ length: count }, (_, i) => {
    const name = `peer${i + 1}`;
    return {
      name,
      port: port + i,
      url: `http://${urlHost}:${port + i}`,
      token: tokens.get(name) ?? randomBytes(32).toString("hex"),
    };
  });
}

function startPeer(
  bundle: WorkerBundle,
  peer: PeerSpec,
  all: PeerSpec[],
  dir: string,
  host: string,
  vars: Record<string, string>,
): Miniflare {
  return new Miniflare(peerOptions(bundle, peer, all, dir, host, vars));
}

/** Waits until the peer's health route answers with its own name. */
async function healthy(peer: PeerSpec): Promise<void> {
  const response = await fetch(`${peer.url}/api/health`);
  const body = (await response.json()) as { peer?: string };
  if (response.status !== 200 || body.peer !== peer.name) {
    throw new Error(`${peer.name} at ${peer.url} answered its health check with ${response.status} (${JSON.stringify(body)}).`);
  }
}

/**
 * Fires every peer's scheduled handler every `seconds`, as the Cron Trigger does when deployed
 * (Miniflare fires none itself). A peer that fails it says so and is tried again next time.
 */
function fireSchedules(instances: Miniflare[], peers: PeerSpec[], seconds: number): void {
  const timer = setInterval(() => {
    instances.forEach(async (mf, i) => {
      try {
        await (await mf.getWorker()).scheduled({ cron: "*/10 * * * *" });
      } catch (err) {
        console.error(`${peers[i]?.name}: the scheduled reconciliation failed: ${(err as Error).message}`);
      }
    });
  }, seconds * 1000);
  timer.unref();
}

async function writeNetwork(file: string, peers: PeerSpec[]): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  const data = { peers: peers.map(({ name, url, token }) => ({ name, url, token })) };
  // It holds every peer's token: readable by its owner only.
  await writeFile(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

function describeStartFailure(err: unknown, peers: PeerSpec[]): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/EADDRINUSE|address already in use|Address already in use/i.test(message)) {
    return `A port from ${peers[0]?.port} to ${peers.at(-1)?.port} is already in use (is another network running?); choose others with --port.`;
  }
  return message.split("\n")[0] ?? message;
}

async function main(): Promise<void> {
  const started = performance.now();
  const { count, port, dir, host, vars, buildOnly, reconcileEvery, restart: restartDead } = options();
  if (buildOnly) {
    await buildWorker().catch((err: Error) => {
      console.error(`error: ${err.message}`);
      process.exit(1);
    });
    return;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Before the peers exist, a Ctrl-C just ends the process.
  process.on("SIGINT", () => process.exit(130));
  process.on("SIGTERM", () => process.exit(143));
  const networkFile = join(dir, "network.json");
  const peers = peerSpecs(count, port, host, await previousTokens(networkFile));

  let bundle: WorkerBundle;
  try {
    bundle = await buildWorker({ log: (line) => console.log(line) });
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  }

  try {
    const reaped = await reapLeftovers(dir);
    if (reaped) console.log(`stopped ${reaped} workerd process${reaped === 1 ? "" : "es"} left by a runner that was killed.`);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  }

  const instances = peers.map((peer) => startPeer(bundle, peer, peers, dir, host, vars));
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(instances.map((mf) => mf.dispose()));
    await forgetRunner(dir).catch(() => {});
    if (code === 0) console.log("stopped; data and tokens are kept for the next start.");
    process.exit(code);
  };
  // Miniflare's own signal hook exits at once with 130; this one waits until every workerd
  // has stopped and its storage is closed, then exits 0. A second Ctrl-C forces the exit.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) process.exit(130);
      console.log("\nstopping the network…");
      void stop(0);
    });
  }

  try {
    await Promise.all(instances.map((mf) => mf.ready));
    await Promise.all(peers.map(healthy));
  } catch (err) {
    console.error(`error: ${describeStartFailure(err, peers)}`);
    await stop(1);
    return;
  }
  await writeNetwork(networkFile, peers);
  await recordRunner(dir);
  if (reconcileEvery > 0) fireSchedules(instances, peers, reconcileEvery);

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const varNames = Object.keys(vars);
  if (varNames.length) console.log(`vars for every peer: ${varNames.map((n) => `${n}=${vars[n]}`).join(" ")}`);
  console.log(`edgepeer: ${count} peer${count === 1 ? "" : "s"} running (data in ${dir}):`);
  for (const peer of peers) console.log(`  ${peer.name.padEnd(7)} ${peer.url}/#token=${peer.token}`);
  console.log(`network file: ${networkFile}`);
  console.log(`ready in ${seconds} s — open a peer's address above in a browser; Ctrl-C stops the network.`);

  // Supervision: a peer whose workerd died (kill -9, a crash) is started again on its port,
  // with its data on disk; the runner never carries on with a dead peer without saying so.
  const restarts = peers.map(() => [] as number[]);
  let known = await workerdByPort().catch(() => new Map<number, number>());
  const down = new Set<number>();
  const restart = async (i: number, pid: number | undefined) => {
    const peer = peers[i] as PeerSpec;
    if (!restartDead) {
      if (!down.has(i))
        console.error(`edgepeer: ${peer.name}'s workerd${pid ? ` (pid ${pid})` : ""} stopped; it stays down (--no-restart).`);
      down.add(i);
      return;
    }
    const recent = (restarts[i] as number[]).filter((t) => Date.now() - t < 60_000);
    restarts[i] = recent;
    if (recent.length >= MAX_RESTARTS) {
      console.error(`error: ${peer.name} died ${MAX_RESTARTS + 1} times within a minute; stopping the network.`);
      return stop(1);
    }
    recent.push(Date.now());
    console.error(`edgepeer: ${peer.name}'s workerd${pid ? ` (pid ${pid})` : ""} stopped unexpectedly; restarting it…`);
    try {
      await (instances[i] as Miniflare).dispose().catch(() => {});
      instances[i] = startPeer(bundle, peer, peers, dir, host, vars);
      await (instances[i] as Miniflare).ready;
      await healthy(peer);
      await recordRunner(dir);
    } catch (err) {
      console.error(`error: could not restart ${peer.name}: ${describeStartFailure(err, [peer])}; stopping the network.`);
      return stop(1);
    }
    console.error(`edgepeer: ${peer.name} restarted at ${peer.url}; its data is kept.`);
  };
  const watch = async () => {
    if (stopping) return;
    try {
      const running = await workerdByPort();
      for (const [i, peer] of peers.entries()) {
        if (!stopping && !running.has(peer.port)) await restart(i, known.get(peer.port));
      }
      known = await workerdByPort();
    } catch (err) {
      console.error(`edgepeer: could not check the peers' processes: ${(err as Error).message}`);
    }
    if (!stopping) setTimeout(watch, 1000);
  };
  setTimeout(watch, 1000);
}

void main();
