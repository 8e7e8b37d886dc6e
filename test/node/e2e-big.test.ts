import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type TestNetwork,
  bytesUnder,
  cli,
  makeTemp,
  removeTemp,
  seededFile,
  sha256OfFile,
  startNetwork,
  transfer,
  waitFor,
  workerdPid,
} from "../support/network";

const MiB = 1024 * 1024;
let net: TestNetwork;
let tmp: string;
let N: string[];
let big: { path: string; size: number; sha256: string };

beforeAll(async () => {
  tmp = await makeTemp("big");
  net = await startNetwork({ peers: 3 });
  N = ["--network", net.file];
  // Above the 100 MB platform body limit: the CLI and relay must go multipart.
  big = await seededFile(join(tmp, "big.bin"), 200 * MiB + 12345, "two-hundred");
});

afterAll(async () => {
  await net?.stop();
  await removeTemp(tmp);
  await removeTemp(net?.dir ?? "");
});

const portOf = (peer: string) => Number(new URL(net.peers.find((p) => p.name === peer)!.url).port);

/**
 * Starts a transfer, kills the source peer's workerd once the destination's storage has
 * received a good part of the bytes (so the cut is really mid-transfer), and returns the
 * transfer's result.
 */
async function cutMidTransfer(args: string[], source: string, destination: string) {
  const storage = join(net.dir, destination);
  const before = await bytesUnder(storage);
  const running = transfer(args);
  let finished = false;
  void running.then(() => (finished = true));
  await waitFor(async () => finished || (await bytesUnder(storage)) > before + 24 * MiB, 120_000, `bytes arriving at ${destination}`);
  expect(finished, "the transfer ended before the source could be killed").toBe(false);
  process.kill(workerdPid(portOf(source)), "SIGKILL");
  return running;
}

describe("200 MiB through the multipart path", () => {
  it("uploads with the CLI and downloads byte-identical", async () => {
    const put = await cli([...N, "--peer", "peer1", "--json", "put-file", "--filename", "big.bin", "--filepath", big.path]);
    expect(put.stderr).toBe("");
    expect(JSON.parse(put.stdout.toString())).toMatchObject({ name: "big.bin", size: big.size, sha256: big.sha256 });
    const out = join(tmp, "big.out");
    const get = await cli([...N, "--peer", "peer1", "get-file", "--filename", "big.bin", "--save", out]);
    expect(get.code, get.stderr).toBe(0);
    expect(await sha256OfFile(out)).toBe(big.sha256);
  });

  for (const [mode, to] of [
    ["pull", "peer2"],
    ["relay", "peer3"],
  ] as const) {
    it(`transfers it in ${mode} mode, verified end to end`, async () => {
      const result = await transfer([...N, "--from", "peer1", "--to", to, "--filename", "big.bin", "--mode", mode]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const copy = await net.client(to).headFile("big.bin");
      expect(copy).toMatchObject({ size: big.size, sha256: big.sha256 });
    });
  }
});

describe("a source killed mid-transfer", () => {
  it("pull: exits 1 naming the source, and the destination keeps nothing", async () => {
    const result = await cutMidTransfer(
      [...N, "--from", "peer3", "--to", "peer2", "--filename", "big.bin", "--as", "cut-pull.bin"],
      "peer3",
      "peer2",
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: peer2: .*peer3/);
    expect(await net.client("peer2").headFile("cut-pull.bin")).toBeNull();
    const listed = (await net.client("peer2").listFiles()).files.map((f) => f.name);
    expect(listed).not.toContain("cut-pull.bin");
  });

  it("relay: exits 1 naming the source, aborts the multipart upload, and the destination keeps nothing", async () => {
    const result = await cutMidTransfer(
      [...N, "--from", "peer1", "--to", "peer2", "--filename", "big.bin", "--as", "cut-relay.bin", "--mode", "relay"],
      "peer1",
      "peer2",
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error: peer2: The download from peer1 broke off \(.*\); nothing was kept on peer2\.$/);
    expect(await net.client("peer2").headFile("cut-relay.bin")).toBeNull();
    // The earlier, complete copy on peer2 is untouched.
    expect(await net.client("peer2").headFile("big.bin")).toMatchObject({ sha256: big.sha256 });
  });
});
