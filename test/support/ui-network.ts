import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NetworkPeer {
  name: string;
  url: string;
  token: string;
}

export interface RunningNetwork {
  peers: NetworkPeer[];
  stop(): Promise<void>;
}

/** True when `port` can be listened on at 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A base port with `count` free ports after it. */
async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error("no free ports for the network");
}

/**
 * Starts `npm start`'s network runner (dist/network.js) with its own data directory and free
 * ports, and resolves once it has written network.json. The UI assets are built first, so the
 * peers serve the UI of this checkout.
 */
export async function startNetwork(count: number): Promise<RunningNetwork> {
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };
  execFileSync("npx", ["tsx", "scripts/build-ui.ts"], { stdio: ["ignore", "ignore", "inherit"], env });
  execFileSync("node", ["scripts/build.mjs"], { stdio: ["ignore", "ignore", "inherit"], env });
  const dir = await mkdtemp(join(tmpdir(), "edgepeer-ui-"));
  const port = await freePorts(count);
  const child: ChildProcess = spawn("node", ["dist/network.js", "--peers", String(count), "--port", String(port), "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the network exited (${code}) before it was ready:\n${output}`));
    child.once("exit", onExit);
    child.stdout?.on("data", () => {
      if (/ready in/.test(output)) {
        child.off("exit", onExit);
        resolve();
      }
    });
  });
  const { peers } = JSON.parse(await readFile(join(dir, "network.json"), "utf8")) as { peers: NetworkPeer[] };

  return {
    peers,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
