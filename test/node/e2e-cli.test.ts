import { readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRemoteMemory, setRemoteMemory } from "../../src/client/node";
import { type TestNetwork, cli, freePorts, makeTemp, removeTemp, seededFile, startNetwork } from "../support/network";

let net: TestNetwork;
let tmp: string;
/** Global flags that point the CLI at this test's network file. */
let N: string[];

beforeAll(async () => {
  tmp = await makeTemp("cli");
  net = await startNetwork({ peers: 3 });
  N = ["--network", net.file];
});

afterAll(async () => {
  await net?.stop();
  await removeTemp(tmp);
  await removeTemp(net?.dir ?? "");
});

/** A CLI error: exit code, and exactly one line on stderr with no stack trace. */
function expectOneLineError(result: { code: number | null; stderr: string }, code: 1 | 2, pattern: RegExp) {
  expect(result.code).toBe(code);
  const lines = result.stderr.trim().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at |Error: .*\n.*node:/);
  // A usage error adds the usage line; an operation error is one line.
  expect(lines.length).toBe(code === 2 ? 2 : 1);
}

describe("edgepeer CLI against a real network", () => {
  it("puts and gets a binary file byte-identical, by --peer", async () => {
    const file = await seededFile(join(tmp, "one.bin"), 1024 * 1024 + 7, "cli-one");
    const put = await cli([...N, "--peer", "peer1", "put-file", "--filename", "docs/ünï code.bin", "--filepath", file.path]);
    expect(put.stderr).toBe("");
    expect(put.code).toBe(0);
    expect(put.stdout.toString()).toContain(file.sha256);

    const out = join(tmp, "one.out");
    const get = await cli([...N, "--peer", "peer1", "get-file", "--filename", "docs/ünï code.bin", "--save", out]);
    expect(get.code).toBe(0);
    expect((await readFile(out)).equals(await readFile(file.path))).toBe(true);

    // Without --save the bytes go to stdout, unchanged.
    const piped = await cli([...N, "--peer", "peer1", "get-file", "--filename", "docs/ünï code.bin"]);
    expect(piped.code).toBe(0);
    expect(piped.stdout.equals(await readFile(file.path))).toBe(true);
  });

  it("works with --host/--port as client.py did, taking the token from the network file", async () => {
    const peer3 = net.peers[2]!;
    const port = new URL(peer3.url).port;
    const file = await seededFile(join(tmp, "hp.bin"), 300_000, "cli-hp");
    const put = await cli([...N, "--host", "127.0.0.1", "--port", port, "put-file", "--filename", "hp.bin", "--filepath", file.path]);
    expect(put.code).toBe(0);
    const get = await cli([...N, "--host", "127.0.0.1", "--port", port, "get-file", "--filename", "hp.bin"]);
    expect(get.stdout.equals(await readFile(file.path))).toBe(true);
    // It went to peer3 and nowhere else.
    expect(await net.client("peer3").headFile("hp.bin")).not.toBeNull();
    expect(await net.client("peer1").headFile("hp.bin")).toBeNull();
  });

  it("with --token (or EDGEPEER_TOKEN) and --url, and refuses a wrong token with exit 1", async () => {
    const peer2 = net.peers[1]!;
    const ok = await cli(["--url", peer2.url, "--token", peer2.token, "--json", "stats"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout.toString())).toHaveProperty("files.count");
    const env = await cli(["--url", peer2.url, "list-files"], { env: { EDGEPEER_TOKEN: peer2.token } });
    expect(env.code).toBe(0);
    const wrong = await cli(["--url", peer2.url, "--token", "not-the-token", "list-files"]);
    expectOneLineError(wrong, 1, /token/i);
  });

  it("uploads above the multipart threshold in parts, byte-identical", async () => {
    const file = await seededFile(join(tmp, "parts.bin"), 12 * 1024 * 1024 + 123, "cli-parts");
    const put = await cli([
      ...N,
      "--multipart-threshold",
      "5MiB",
      "--part-size",
      "5MiB",
      "put-file",
      "--filename",
      "parts.bin",
      "--filepath",
      file.path,
      "--json",
    ]);
    expect(put.stderr).toBe("");
    expect(JSON.parse(put.stdout.toString())).toMatchObject({ name: "parts.bin", size: file.size, sha256: file.sha256 });
    const out = join(tmp, "parts.out");
    expect((await cli([...N, "get-file", "--filename", "parts.bin", "--save", out])).code).toBe(0);
    expect((await readFile(out)).equals(await readFile(file.path))).toBe(true);
  });

  it("lists files with their SHA-256, deletes, and fails with one line for a missing file", async () => {
    const file = await seededFile(join(tmp, "del.bin"), 4096, "cli-del");
    await cli([...N, "put-file", "--filename", "tmp/del.bin", "--filepath", file.path]);
    const list = await cli([...N, "--json", "list-files", "--prefix", "tmp/"]);
    expect(JSON.parse(list.stdout.toString()).files).toEqual([
      expect.objectContaining({ name: "tmp/del.bin", size: 4096, sha256: file.sha256 }),
    ]);
    expect((await cli([...N, "delete-file", "--filename", "tmp/del.bin"])).code).toBe(0);

    const out = join(tmp, "del.out");
    const missing = await cli([...N, "get-file", "--filename", "tmp/del.bin", "--save", out]);
    expectOneLineError(missing, 1, /No file "tmp\/del.bin"/);
    expect(existsSync(out)).toBe(false);
    expectOneLineError(await cli([...N, "delete-file", "--filename", "tmp/del.bin"]), 1, /No file/);
  });

  it("exits 2 with the usage for usage errors", async () => {
    expectOneLineError(await cli([...N, "put-file", "--filename", "x"]), 2, /--filepath is required/);
    expectOneLineError(await cli([...N, "frobnicate"]), 2, /Unknown command "frobnicate"/);
    expectOneLineError(await cli([...N, "list-files", "--bogus"]), 2, /--bogus/);
    expectOneLineError(await cli([...N, "get-mem"]), 2, /--key is required/);
    expectOneLineError(await cli([...N, "--peer", "peer9", "health"]), 1, /No peer "peer9"/);
    const none = await cli([]);
    expect(none.code).toBe(2);
  });

  it("shows help with exit 0, and takes the global flags before or after the command's name", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toMatch(/put-file/);
    const commandHelp = await cli(["help", "get-file"]);
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout.toString()).toMatch(/^Usage: edgepeer get-file --filename NAME/);
    const after = await cli(["health", ...N, "--peer", "peer2", "--json"]);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout.toString())).toMatchObject({ peer: "peer2" });
    expectOneLineError(await cli([...N, "list-files", "stray"]), 2, /too many arguments/);
    expectOneLineError(await cli([...N, "get-file", "--filename"]), 2, /--filename needs a value/);
    // `--no-cache` is a flag of its own (commander would read it as cache=false on a flag "cache").
    const program = "function main() { return 'no-cache flag'; }";
    expect((await cli([...N, "run", "--program", program])).code).toBe(0);
    const uncached = await cli([...N, "run", "--program", program, "--no-cache", "--json"]);
    expect(JSON.parse(uncached.stdout.toString())).toMatchObject({ status: "succeeded", cached: false });
    const cached = await cli([...N, "run", "--program", program, "--json"]);
    expect(JSON.parse(cached.stdout.toString())).toMatchObject({ status: "succeeded", cached: true });
  });

  it("says clearly when a peer is not running", async () => {
    const port = await freePorts(1);
    const dead = await cli(["--host", "127.0.0.1", "--port", String(port), "--token", "x", "list-files"]);
    expectOneLineError(dead, 1, new RegExp(`Could not reach 127\\.0\\.0\\.1:${port}: connection refused`));
  });

  it("sets and gets remote memory by peer name, each peer keeping its own", async () => {
    const set = await cli([...N, "--peer", "peer2", "set-mem", "--key", "greeting", "--value", '{"n": 1, "s": "hi"}']);
    expect(set.code).toBe(0);
    const get = await cli([...N, "--peer", "peer2", "get-mem", "--key", "greeting"]);
    expect(JSON.parse(get.stdout.toString())).toEqual({ n: 1, s: "hi" });
    expect((await cli([...N, "--peer", "peer2", "set-mem", "--key", "plain", "--value", "just text"])).code).toBe(0);
    expect((await cli([...N, "--peer", "peer2", "get-mem", "--key", "plain"])).stdout.toString()).toBe("just text\n");

    // peer1 has a memory of its own.
    expectOneLineError(await cli([...N, "--peer", "peer1", "get-mem", "--key", "greeting"]), 1, /No memory key "greeting"/);

    const list = await cli([...N, "--peer", "peer2", "--json", "list-mem"]);
    expect(JSON.parse(list.stdout.toString()).keys.map((k: { key: string }) => k.key)).toEqual(["greeting", "plain"]);
    expect((await cli([...N, "--peer", "peer2", "del-mem", "--key", "plain"])).code).toBe(0);
    expectOneLineError(await cli([...N, "--peer", "peer2", "get-mem", "--key", "plain"]), 1, /No memory key/);

    // The library calls of the original system, by peer name through the network file.
    await setRemoteMemory("peer3", "from-lib", [1, 2, 3], { network: net.file });
    expect(await getRemoteMemory("peer3", "from-lib", { network: net.file })).toEqual([1, 2, 3]);
    expect((await cli([...N, "--peer", "peer3", "get-mem", "--key", "from-lib"])).stdout.toString()).toBe("[1,2,3]\n");
  });

  it("shares a signed link that needs no token", async () => {
    const file = await seededFile(join(tmp, "share.bin"), 2048, "cli-share");
    await cli([...N, "put-file", "--filename", "share.bin", "--filepath", file.path]);
    const share = await cli([...N, "share", "--filename", "share.bin", "--ttl", "60"]);
    expect(share.code).toBe(0);
    const url = share.stdout.toString().trim();
    // The link binds its version between expiry and signature (docs/api.md "Share links").
    expect(url).toMatch(/\?expires=\d+&(.+&)?sig=[0-9a-f]+$/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(await readFile(file.path))).toBe(true);
  });

  it("finds a file on every known peer, and exits 1 when no peer has it", async () => {
    const file = await seededFile(join(tmp, "find.bin"), 1000, "cli-find");
    await cli([...N, "--peer", "peer2", "put-file", "--filename", "only-on-2.bin", "--filepath", file.path]);
    const found = await cli([...N, "--json", "find-file", "--filename", "only-on-2.bin"]);
    expect(found.code).toBe(0);
    const answers = JSON.parse(found.stdout.toString()).peers as { peer: string; found: boolean; sha256: string | null }[];
    expect(answers.map((a) => [a.peer, a.found]).sort()).toEqual([
      ["peer1", false],
      ["peer2", true],
      ["peer3", false],
    ]);
    expect(answers.find((a) => a.found)?.sha256).toBe(file.sha256);
    const nowhere = await cli([...N, "find-file", "--filename", "nowhere.bin"]);
    expect(nowhere.code).toBe(1);
  });

  it("answers health, peers and stats", async () => {
    const health = await cli([...N, "--peer", "peer2", "--json", "health"]);
    expect(JSON.parse(health.stdout.toString())).toMatchObject({ peer: "peer2" });
    const peers = await cli([...N, "--peer", "peer1", "--json", "peers"]);
    expect(JSON.parse(peers.stdout.toString()).peers).toEqual([
      expect.objectContaining({ name: "peer2", url: net.peers[1]!.url, up: true }),
      expect.objectContaining({ name: "peer3", url: net.peers[2]!.url, up: true }),
    ]);
    const stats = await cli([...N, "--peer", "peer1", "stats"]);
    expect(stats.code).toBe(0);
    expect(stats.stdout.toString()).toMatch(/^files\s+\d+/m);
  });

  it("runs a task, shows it in the history and the cache, and exits 1 for a failing task", async () => {
    const ok = await cli([...N, "run", "--program", "function main(a, b) { return a * b + 1; }", "--args", "[6, 7]"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout.toString().trim()).toBe("43");
    const programFile = join(tmp, "square.js");
    await writeFile(programFile, "function square(x) { return x * x; }");
    const fromFile = await cli([...N, "--json", "run", "--program-file", programFile, "--function", "square", "--args", "[12]"]);
    expect(JSON.parse(fromFile.stdout.toString())).toMatchObject({ status: "succeeded", result: 144 });

    const failing = await cli([...N, "run", "--program", "function main() { throw new Error('boom'); }"]);
    expectOneLineError(failing, 1, /task failed.*boom/);

    const history = await cli([...N, "--json", "history", "--limit", "10"]);
    const tasks = JSON.parse(history.stdout.toString()).tasks as { function: string; status: string }[];
    expect(tasks.map((t) => t.function)).toEqual(expect.arrayContaining(["main", "square"]));
    expect(tasks.some((t) => t.status === "failed")).toBe(true);
    const cache = await cli([...N, "--json", "cache"]);
    expect(JSON.parse(cache.stdout.toString()).entries).toBeGreaterThanOrEqual(2);
    expect((await cli([...N, "cache", "--clear"])).code).toBe(0);
    expect(JSON.parse((await cli([...N, "--json", "cache"])).stdout.toString()).entries).toBe(0);
  });
});

describe("the network across a restart", () => {
  it("stops cleanly on Ctrl-C and keeps files, memory and tokens", async () => {
    const file = await seededFile(join(tmp, "keep.bin"), 200_000, "cli-keep");
    expect((await cli([...N, "--peer", "peer3", "put-file", "--filename", "keep.bin", "--filepath", file.path])).code).toBe(0);
    expect((await cli([...N, "--peer", "peer3", "set-mem", "--key", "kept", "--value", "42"])).code).toBe(0);
    const tokens = net.peers.map((p) => p.token);

    expect(await net.stop()).toBe(0);
    expect(net.output()).toMatch(/stopped/);
    const down = await cli([...N, "--peer", "peer3", "health"]);
    expect(down.code).toBe(1);

    net = await startNetwork({ peers: 3, dir: net.dir, port: net.port });
    expect(net.peers.map((p) => p.token)).toEqual(tokens);
    const get = await cli([...N, "--peer", "peer3", "get-file", "--filename", "keep.bin"]);
    expect(get.stdout.equals(await readFile(file.path))).toBe(true);
    expect((await cli([...N, "--peer", "peer3", "get-mem", "--key", "kept"])).stdout.toString()).toBe("42\n");
  });
});
