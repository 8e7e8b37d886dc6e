import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FetchLike, PeerClient, PeerError, transferFile } from "../../src/client/index";
import { nodeFetch } from "../../src/client/node";
import { type TestNetwork, cli, startNetwork } from "../support/network";

/**
 * A name is sent as a name: the client refuses, before sending anything, every name the
 * contract refuses — `..` once turned `delete-file --filename ../cache` into
 * `DELETE /api/cache`. Driven through the real CLI and the client against a real network.
 */

let net: TestNetwork;
let N: string[];

beforeAll(async () => {
  net = await startNetwork({ peers: 2 });
  N = ["--network", net.file, "--peer", "peer1"];
});

afterAll(async () => {
  await net?.stop();
});

/** A client of peer1 that counts the requests it makes. */
function countingClient(): { client: PeerClient; sent: string[] } {
  const sent: string[] = [];
  const peer = net.peers[0]!;
  const fetch: FetchLike = (url, init) => {
    sent.push(`${init.method} ${url.pathname}`);
    return nodeFetch(url, init);
  };
  return { client: new PeerClient({ url: peer.url, token: peer.token, name: peer.name, fetch }), sent };
}

/** A task in the history and its result in the cache: what `../tasks` and `../cache` once cleared. */
async function seedHistoryAndCache(): Promise<string> {
  const peer1 = net.client("peer1");
  const task = await peer1.runTask({ program: `function main(n) { return n + ${Math.random()} }`, args: [1], cache: true });
  expect(task.status).toBe("succeeded");
  return task.id;
}

async function expectHistoryAndCacheKept(id: string) {
  const peer1 = net.client("peer1");
  expect((await peer1.getTask(id)).id).toBe(id);
  expect((await peer1.cacheInfo()).entries).toBeGreaterThan(0);
}

/** Exit 2, the reason on the first line, the usage on the second, no stack. */
function expectUsageError(result: { code: number | null; stderr: string }, reason: RegExp) {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trim().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(reason);
  expect(lines[1]).toMatch(/^usage: /);
  expect(lines).toHaveLength(2);
}

const BAD_FILE_NAMES: Array<[name: string, reason: RegExp]> = [
  ["../cache", /'\.' or '\.\.' segment/],
  ["../tasks", /'\.' or '\.\.' segment/],
  ["docs/../../cache", /'\.' or '\.\.' segment/],
  ["./x", /'\.' or '\.\.' segment/],
  ["..", /'\.' or '\.\.' segment/],
  ["a//b", /empty segment/],
  ["a/", /empty segment/],
  ["/etc/passwd", /starts with '\/'/],
  ["a\\b", /backslash/],
  ["a\u0007b", /control character/],
  ["evil\u202Etxt.exe", /bidirectional/],
  ["é".repeat(513), /longer than 1024 bytes/],
];

describe("the CLI sends a file name as a file name", () => {
  it("refuses `..` and every other name the contract refuses with exit 2, and clears nothing", async () => {
    const id = await seedHistoryAndCache();
    for (const [name, reason] of BAD_FILE_NAMES) {
      expectUsageError(await cli([...N, "delete-file", "--filename", name]), reason);
    }
    expectUsageError(await cli([...N, "get-file", "--filename", "../tasks"]), /'\.\.' segment/);
    expectUsageError(await cli([...N, "share", "--filename", "../stats"]), /'\.\.' segment/);
    expectUsageError(await cli([...N, "find-file", "--filename", "../cache"]), /'\.\.' segment/);
    expectUsageError(await cli([...N, "list-files", "--prefix", "../"]), /'\.\.' segment/);
    expectUsageError(await cli([...N, "replicate", "remove", "--id", ".."]), /cannot be sent in a URL path/);
    expectUsageError(await cli([...N, "token", "revoke", "--id", ".."]), /cannot be sent in a URL path/);
    expectUsageError(await cli([...N, "shares", "revoke", "--id", "../cache"]), /slash/);
    const peers = ["--network", net.file, "--from", "peer1", "--to", "peer2"];
    expectUsageError(await cli([...peers.slice(0, 2), "sync", ...peers.slice(2), "--as", "../"]), /'\.\.' segment/);
    expectUsageError(await cli([...peers.slice(0, 2), "check", ...peers.slice(2), "--prefix", "a//"]), /empty segment/);
    expectUsageError(await cli([...N, "replicate", "reconcile", "--id", "../cache"]), /slash/);
    await expectHistoryAndCacheKept(id);
  });

  it("refuses the memory keys `.` and `..`, which a URL path cannot carry, with exit 2", async () => {
    const id = await seedHistoryAndCache();
    await net.client("peer1").setMemory("kept", 1);
    expectUsageError(await cli([...N, "del-mem", "--key", ".."]), /cannot be sent in a URL path/);
    expectUsageError(await cli([...N, "get-mem", "--key", "."]), /cannot be sent in a URL path/);
    expectUsageError(await cli([...N, "set-mem", "--key", "..", "--value", "1"]), /cannot be sent in a URL path/);
    expectUsageError(await cli([...N, "get-mem", "--key", "a\u0001b"]), /control character/);
    expect(await net.client("peer1").getMemory("kept")).toBe(1);
    await expectHistoryAndCacheKept(id);
  });

  it("makes `transfer --as ''` and `--as ../cache` usage errors, before asking any peer", async () => {
    const id = await seedHistoryAndCache();
    await net.client("peer1").putFile("t.txt", "transfer me");
    const base = [...N, "transfer", "--from", "peer1", "--to", "peer2", "--filename", "t.txt"];
    expectUsageError(await cli([...base, "--as", ""]), /--as/);
    expectUsageError(await cli([...base, "--as", "../cache"]), /^error: --as: .*'\.\.' segment/);
    expectUsageError(await cli([...N, "transfer", "--from", "peer1", "--to", "peer2", "--filename", "a//t.txt"]), /empty segment/);
    expect(await net.client("peer2").headFile("t.txt")).toBeNull();
    // The same file with a proper --as arrives.
    const ok = await cli([...base, "--as", "copies/t.txt"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(new TextDecoder().decode(await net.client("peer2").getFileBytes("copies/t.txt"))).toBe("transfer me");
    await expectHistoryAndCacheKept(id);
  });

  it("makes an empty value of a flag that names something a usage error", async () => {
    await net.client("peer1").putFile("e.txt", "e");
    const empties: string[][] = [
      ["--network", net.file, "--peer", "", "list-files"],
      ["--network", "", "--peer", "peer1", "list-files"],
      [...N, "--token", "", "list-files"],
      [...N, "get-file", "--filename", "e.txt", "--save", ""],
      [...N, "get-file", "--filename", "e.txt", "--output", ""],
      [...N, "put-file", "--filepath", "package.json", "--filename", ""],
      [...N, "put-file", "--filepath", "package.json", "--content-type", ""],
      [...N, "run", "--program", "function main() { return 1 }", "--function", ""],
      [...N, "transfer", "--from", "peer1", "--to", "peer2", "--filename", "e.txt", "--mode", ""],
    ];
    for (const args of empties) {
      const flag = args[args.indexOf("") - 1];
      expectUsageError(await cli(args), new RegExp(`${flag}`));
    }
    // An empty value and an empty prefix stay what they mean: "" and everything.
    expect((await cli([...N, "set-mem", "--key", "blank", "--value", ""])).code).toBe(0);
    expect(await net.client("peer1").getMemory("blank")).toBe("");
    const listed = await cli([...N, "list-files", "--prefix", ""]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.toString()).toContain("e.txt");
  });
});

describe("the client sends a name as a name", () => {
  it("refuses a bad name, key, prefix or id on every method with invalid_argument, sending nothing", async () => {
    const { client, sent } = countingClient();
    const bytes = new TextEncoder().encode("x");
    const calls: Array<[string, () => Promise<unknown>]> = [];
    for (const [name] of BAD_FILE_NAMES) {
      calls.push(
        [`headFile ${name}`, () => client.headFile(name)],
        [`getFile ${name}`, () => client.getFile(name)],
        [`getFileBytes ${name}`, () => client.getFileBytes(name)],
        [`putFile ${name}`, () => client.putFile(name, bytes)],
        [`upload ${name}`, () => client.upload(name, new Blob([bytes]))],
        [`deleteFile ${name}`, () => client.deleteFile(name)],
        [`shareFile ${name}`, () => client.shareFile(name)],
        [`pullFile ${name}`, () => client.pullFile(name, `${net.peers[1]!.url}/api/files/x?expires=1&sig=00`)],
        [`createUpload ${name}`, () => client.createUpload(name)],
        [`uploadPart ${name}`, () => client.uploadPart("abc", name, 1, bytes, 1)],
        [`completeUpload ${name}`, () => client.completeUpload("abc", name, [{ part: 1, etag: "e" }])],
        [`abortUpload ${name}`, () => client.abortUpload("abc", name)],
      );
    }
    for (const prefix of ["../", "a//", "/x", "a\\b/", "x\u0000"]) {
      calls.push([`listFiles ${prefix}`, () => client.listFiles({ prefix })]);
      calls.push([`allFiles ${prefix}`, async () => client.allFiles(prefix).next()]);
    }
    for (const key of [".", "..", "", "a\u0001", "k".repeat(481)]) {
      calls.push(
        [`getMemory ${key}`, () => client.getMemory(key)],
        [`setMemory ${key}`, () => client.setMemory(key, 1)],
        [`deleteMemory ${key}`, () => client.deleteMemory(key)],
      );
    }
    calls.push([`listMemory control`, () => client.listMemory({ prefix: "a\u0002" })]);
    for (const id of ["", ".", "..", "../cache", "a/b", "a\\b", "a\u0000"]) {
      calls.push(
        [`getTask ${id}`, () => client.getTask(id)],
        [`uploadPart id ${id}`, () => client.uploadPart(id, "ok.txt", 1, bytes, 1)],
        [`completeUpload id ${id}`, () => client.completeUpload(id, "ok.txt", [{ part: 1, etag: "e" }])],
        [`abortUpload id ${id}`, () => client.abortUpload(id, "ok.txt")],
        [`putReplicationRule ${id}`, () => client.putReplicationRule(id, { prefix: "a/", to: "peer2", token: "t" })],
        [`deleteReplicationRule ${id}`, () => client.deleteReplicationRule(id)],
        [`reconcileReplication ${id}`, () => client.reconcileReplication(id)],
        [`revokeToken ${id}`, () => client.revokeToken(id)],
        [`revokeShare ${id}`, () => client.revokeShare(id)],
      );
    }
    const other = net.client("peer2");
    calls.push([`transferFile as ''`, () => transferFile(other, client, "x", { as: "" })]);
    calls.push([`relay to ../cache`, () => transferFile(other, client, "../cache")]);
    for (const [what, call] of calls) {
      const err = await call().then(
        () => new Error("resolved"),
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(PeerError);
      expect((err as PeerError).code, `${what}: ${(err as Error).message}`).toBe("invalid_argument");
      expect((err as PeerError).message, what).toMatch(/nothing was sent\.$/);
    }
    expect(sent).toEqual([]);
  });

  it("sends names that merely look like paths as the names they are", async () => {
    const { client, sent } = countingClient();
    const names = ["x/%2e%2e/cache", "q?a=1#frag", "..hidden/.profile", "sp ace/ü/…", "a%2Fb", "%2e%2e"];
    for (const name of names) {
      const meta = await client.putFile(name, name);
      expect(meta.name).toBe(name);
      expect(new TextDecoder().decode(await client.getFileBytes(name))).toBe(name);
    }
    const listed = (await client.listFiles()).files.map((f) => f.name);
    for (const name of names) expect(listed).toContain(name);
    for (const key of ["../cache", "a/b", "%2e%2e", "..."]) {
      await client.setMemory(key, key);
      expect(await client.getMemory(key)).toBe(key);
    }
    // Every request stayed on the route it was meant for.
    expect(
      sent.every((s) => /^(PUT|GET) \/api\/(files|memory)(\/|$)/.test(s)),
      sent.join("\n"),
    ).toBe(true);
  });
});
