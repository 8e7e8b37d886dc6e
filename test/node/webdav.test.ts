import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerClient } from "../../src/client/index";
import { type TestNetwork, makeTemp, removeTemp, startNetwork, waitFor } from "../support/network";

/**
 * /dav/ of a real peer (the network runner's workerd) driven by real clients: the `litmus`
 * conformance suite and rclone's webdav backend (Debian packages `litmus` and `rclone`;
 * .ci/run installs them).
 */

const run = promisify(execFile);

let net: TestNetwork;
let peer: PeerClient;
let davUrl: string;
let token: string;
let work: string;

beforeAll(async () => {
  net = await startNetwork({ peers: 2 });
  peer = net.client("peer1");
  const info = net.peers[0]!;
  davUrl = `${info.url}/dav/`;
  token = info.token;
  work = await makeTemp("webdav");
});

afterAll(async () => {
  await net?.stop();
  await removeTemp(net?.dir ?? "");
  await removeTemp(work ?? "");
});

/** Runs litmus's suite `suite`; its summary and every line that is not a plain pass. */
async function litmus(suite: string): Promise<{ summary: string; notes: string[] }> {
  const cwd = join(work, `litmus-${suite}`);
  await mkdir(cwd, { recursive: true });
  let stdout: string;
  try {
    ({ stdout } = await run("litmus", [davUrl, "edgepeer", token], { cwd, env: { ...process.env, TESTS: suite }, timeout: 300_000 }));
  } catch (err) {
    stdout = (err as { stdout?: string }).stdout ?? String(err);
  }
  const summary = /summary for `[^']+': (.*)/.exec(stdout)?.[1] ?? stdout;
  const notes = stdout.split("\n").filter((l) => /WARNING|FAIL|SKIPPED/.test(l));
  return { summary, notes };
}

describe("litmus against /dav/", () => {
  // Every test of every suite passes. The one warning (basic 9, delete_fragment) is explained
  // in docs/webdav.md: the runtime drops a URL's #fragment before the Worker sees it.
  for (const suite of ["basic", "copymove", "props", "locks", "http"]) {
    it(`passes every test of the ${suite} suite`, async () => {
      const { summary, notes } = await litmus(suite);
      expect(summary, notes.join("\n")).toMatch(/of (\d+) tests run: \1 passed, 0 failed/);
      const warnings = notes.filter((l) => /WARNING/.test(l));
      expect(warnings).toEqual(suite === "basic" ? [expect.stringMatching(/delete_fragment.*fragment/)] : []);
    });
  }
});

/** rclone with an on-the-fly webdav remote (`:webdav:`) on the peer, with the token as Bearer. */
async function rclone(...args: string[]): Promise<string> {
  const flags = [
    "--webdav-url",
    davUrl,
    "--webdav-vendor",
    "other",
    "--webdav-bearer-token",
    token,
    "--low-level-retries",
    "1",
    "--retries",
    "1",
  ];
  const { stdout, stderr } = await run("rclone", [...args, ...flags], {
    env: { ...process.env, RCLONE_CONFIG: "/dev/null" },
    timeout: 300_000,
  });
  return stdout + stderr;
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** Every file under `prefix` as the API lists it: name (relative) → SHA-256. */
async function apiTree(prefix: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  let cursor: string | undefined;
  do {
    const page = await peer.listFiles({ prefix, cursor });
    for (const f of page.files) if (!f.name.endsWith("/")) out[f.name.slice(prefix.length)] = f.sha256;
    cursor = page.cursor ?? undefined;
  } while (cursor);
  return out;
}

/** Writes `files` (relative name → bytes) under `dir`; returns name → SHA-256. */
async function writeTree(dir: string, files: Record<string, Uint8Array | string>): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), bytes);
    sums[name] = sha256(bytes);
  }
  return sums;
}

describe("rclone's webdav backend against /dav/", () => {
  it("copies, checks, syncs, moves and purges a 100-file tree, byte-identical by SHA-256", async () => {
    const local = join(work, "tree");
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 100; i++) {
      const name = `album ${i % 5}/${i % 2 ? "raw" : "jpeg ü"}/photo ${i} ✓.bin`;
      files[name] = createHash("sha512")
        .update(`seed ${i}`)
        .digest()
        .subarray(0, 1 + (i % 64))
        .map((b, k) => b ^ k);
      if (i % 10 === 0) files[name] = new Uint8Array(Buffer.alloc(100_000 + i, i));
    }
    let sums = await writeTree(local, files);

    await rclone("copy", local, ":webdav:backup");
    expect(await apiTree("backup/")).toEqual(sums);
    expect(await rclone("check", "--download", local, ":webdav:backup")).toMatch(/0 differences found/);

    // Change ten, delete five, add five: sync makes the peer's copy the same again. (Over plain
    // WebDAV rclone compares sizes only, so a changed file here also changes its size.)
    for (const name of Object.keys(files).slice(0, 10)) files[name] = Buffer.concat([files[name]!, Buffer.from(" changed")]);
    for (const name of Object.keys(files).slice(10, 15)) {
      delete files[name];
      await rm(join(local, name));
    }
    for (let i = 0; i < 5; i++) files[`new/added ${i}.txt`] = new TextEncoder().encode(`added ${i}`);
    sums = await writeTree(local, files);
    await rclone("sync", local, ":webdav:backup");
    expect(await apiTree("backup/")).toEqual(sums);
    expect(Object.keys(sums)).toHaveLength(100);

    // Back down, byte for byte.
    const back = join(work, "back");
    await rclone("copy", ":webdav:backup", back);
    for (const [name, sum] of Object.entries(sums)) expect(sha256(await readFile(join(back, name))), name).toBe(sum);

    // A move on the peer (server-side MOVE of the folder), then a purge.
    await rclone("move", ":webdav:backup", ":webdav:moved");
    expect(await apiTree("moved/")).toEqual(sums);
    expect(await apiTree("backup/")).toEqual({});
    await rclone("purge", ":webdav:moved");
    expect((await peer.listFiles({ prefix: "moved" })).files).toEqual([]);
  });
});

describe("WebDAV writes and replication", () => {
  it("replicates a file written and deleted over WebDAV, like any other write", async () => {
    const peer2 = net.client("peer2");
    await peer.putReplicationRule("dav", { prefix: "replicated/", to: "peer2", token: net.peers[1]!.token });
    const local = join(work, "replicated");
    const sums = await writeTree(local, { "report ✓.txt": "written over WebDAV" });
    await rclone("copy", local, ":webdav:replicated");
    await waitFor(async () => (await peer2.headFile("replicated/report ✓.txt")) !== null, 60_000, "the replica");
    expect((await peer2.headFile("replicated/report ✓.txt"))?.sha256).toBe(sums["report ✓.txt"]);
    await rclone("delete", ":webdav:replicated");
    await waitFor(async () => (await peer2.headFile("replicated/report ✓.txt")) === null, 60_000, "the replica's delete");
  });
});
