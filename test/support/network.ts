/**
 * End-to-end helpers: the real network runner, CLI and transfer script as child processes
 * (what `npm start`, `edgepeer` and `npm run transfer` run), on free ports, with data under
 * a temporary directory. Nothing is mocked.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PeerClient } from "../../src/client/index";
import type { NetworkPeer } from "../../src/client/node";

export const ROOT = resolve(import.meta.dirname, "../..");
const ENV: NodeJS.ProcessEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0" };
delete ENV.EDGEPEER_TOKEN;
delete ENV.EDGEPEER_PEER;
delete ENV.EDGEPEER_URL;
delete ENV.EDGEPEER_NETWORK;

let built = false;
/** Bundles dist/ (CLI, transfer, network) from this checkout, once per test file. */
export function buildScripts(): void {
  if (built) return;
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: ENV });
  built = true;
}

/** A fresh temporary directory; removed by `removeTemp`. */
export const makeTemp = (label: string) => mkdtemp(join(tmpdir(), `edgepeer-${label}-`));
export const removeTemp = (dir: string) => rm(dir, { recursive: true, force: true });

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/**
 * A base port with `count` free ports after it (test files run in parallel). Drawn below
 * Linux's ephemeral range (32768–60999 by default): a port the kernel hands out to outgoing
 * connections — the suite makes thousands — can be taken between this check and the runner's
 * bind, which is how a CI run once lost a whole test file to "Address already in use".
 */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 12000 + Math.floor(Math.random() * (32000 - 12000 - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error("no free ports for a test network");
}

export interface TestNetwork {
  dir: string;
  /** The network file the runner wrote. */
  file: string;
  port: number;
  count: number;
  peers: NetworkPeer[];
  child: ChildProcess;
  output(): string;
  /** A client for a peer of this network, by name. */
  client(name: string, options?: { multipartThreshold?: number }): PeerClient;
  /** Ctrl-C; resolves to the exit code once the runner has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts the network runner (`npm start`'s dist/network.js) and waits for "ready". `vars` are
 * passed as `--var NAME=VALUE` (every peer's vars, as `npm start -- --var` does); `args` are
 * more of the runner's flags.
 */
export async function startNetwork(
  options: { peers?: number; dir?: string; port?: number; vars?: Record<string, string>; args?: string[] } = {},
): Promise<TestNetwork> {
  buildScripts();
  const count = options.peers ?? 3;
  const dir = options.dir ?? (await makeTemp("net"));
  const varFlags = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}=${value}`]);
  // Ports checked free can still be taken before the runner binds them (another test file's
  // network); when the port was ours to choose, such a start is tried again on other ports.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePorts(count));
    const args = ["dist/network.js", "--peers", String(count), "--port", String(port), "--dir", dir, ...varFlags, ...(options.args ?? [])];
    try {
      return await launch(args, dir, port, count);
    } catch (error) {
      const taken = error instanceof PortTaken;
      if (!taken || options.port !== undefined || attempt >= 3) throw taken ? error.cause : error;
    }
  }
}

class PortTaken extends Error {}

async function launch(args: string[], dir: string, port: number, count: number): Promise<TestNetwork> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: ENV,
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;

  await new Promise<void>((ready, fail) => {
    const onData = () => {
      if (/^ready in /m.test(output)) {
        child.stdout?.off("data", onData);
        ready();
      }
    };
    child.stdout?.on("data", onData);
    void exited.then(([code]) => {
      const error = new Error(`the network exited (${code}) before it was ready:\n${output}`);
      fail(/is already in use/.test(output) ? new PortTaken(error.message, { cause: error }) : error);
    });
  });

  const file = join(dir, "network.json");
  const peers = (JSON.parse(await readFile(file, "utf8")) as { peers: NetworkPeer[] }).peers;
  return {
    dir,
    file,
    port,
    count,
    peers,
    child,
    output: () => output,
    client(name, clientOptions = {}) {
      const peer = peers.find((p) => p.name === name);
      if (!peer) throw new Error(`no ${name} in the test network`);
      return new PeerClient({ ...clientOptions, url: peer.url, token: peer.token, name: peer.name });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGINT");
      const [code] = await exited;
      return code;
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a Node script of this checkout to completion (stdin closed), capturing its output. */
export function runNode(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<RunResult> & { child: ChildProcess } {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...ENV, ...options.env },
  });
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => out.push(d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = (once(child, "close") as Promise<[number | null]>).then(([code]) => ({ code, stdout: Buffer.concat(out), stderr }));
  return Object.assign(done, { child });
}

/** `edgepeer …` — the package's bin. */
export const cli = (args: string[], options?: { env?: Record<string, string>; cwd?: string }) => runNode("bin/edgepeer.js", args, options);

/** `npm run transfer -- …` (without npm's own startup). */
export const transfer = (args: string[], options?: { env?: Record<string, string> }) => runNode("dist/transfer.js", args, options);

/** `size` reproducible, incompressible bytes: the AES-CTR keystream of `seed` (what `seededFile` writes). */
export function seededBytes(size: number, seed: string): Buffer {
  const key = createHash("sha256").update(seed).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** The SHA-256 of `bytes`, in hex. */
export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * Writes `size` bytes of a seeded pattern (AES-CTR keystream: incompressible, reproducible)
 * to `path` in 1 MiB chunks, and returns its SHA-256. Never holds the file in memory.
 */
export async function seededFile(path: string, size: number, seed: string): Promise<{ path: string; size: number; sha256: string }> {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; ) {
    const n = Math.min(left, zeros.length);
    const chunk = cipher.update(zeros.subarray(0, n));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
    left -= n;
  }
  out.end();
  await once(out, "finish");
  return { path, size, sha256: hash.digest("hex") };
}

/** SHA-256 of a file on disk. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  const { createReadStream } = await import("node:fs");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The pid of the workerd serving `port` (each peer of the network is its own workerd). */
export function workerdPid(port: number): number {
  const out = execFileSync("pgrep", ["-f", `socket-addr=entry=127.0.0.1:${port} `], { encoding: "utf8" }).trim();
  const pid = Number(out.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no workerd on port ${port}`);
  return pid;
}

/** Total bytes under a directory (a peer's persisted R2 blobs grow as a transfer arrives). */
export async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    try {
      total += (await stat(join(e.parentPath, e.name))).size;
    } catch {
      // Removed while we looked.
    }
  }
  return total;
}

/** Polls `check` until it is true; throws after `limitMs`. A wait, not a timed assertion. */
export async function waitFor(check: () => Promise<boolean> | boolean, limitMs = 60_000, what = "a condition"): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
