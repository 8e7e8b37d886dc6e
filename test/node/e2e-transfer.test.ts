import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type TestNetwork, cli, freePorts, makeTemp, removeTemp, seededFile, startNetwork, transfer } from "../support/network";

const MiB = 1024 * 1024;
let net: TestNetwork;
let tmp: string;
let N: string[];
const seeded: Record<string, { path: string; size: number; sha256: string }> = {};

beforeAll(async () => {
  tmp = await makeTemp("transfer");
  net = await startNetwork({ peers: 3 });
  N = ["--network", net.file];
  for (const [name, size] of [
    ["one.bin", MiB],
    ["sixty-four.bin", 64 * MiB],
  ] as const) {
    seeded[name] = await seededFile(join(tmp, name), size, name);
    const put = await cli([...N, "--peer", "peer1", "put-file", "--filename", name, "--filepath", seeded[name].path]);
    expect(put.code, put.stderr).toBe(0);
  }
});

afterAll(async () => {
  await net?.stop();
  await removeTemp(tmp);
  await removeTemp(net?.dir ?? "");
});

/** The destination's copy, downloaded by the CLI, is byte-identical to the original. */
async function expectCopy(peer: string, name: string, original: { path: string; sha256: string }) {
  const meta = await net.client(peer).headFile(name);
  expect(meta?.sha256).toBe(original.sha256);
  const out = join(tmp, `${peer}-${name.replaceAll("/", "_")}.out`);
  const get = await cli([...N, "--peer", peer, "get-file", "--filename", name, "--save", out]);
  expect(get.code, get.stderr).toBe(0);
  expect((await readFile(out)).equals(await readFile(original.path))).toBe(true);
}

describe("npm run transfer", () => {
  for (const mode of ["pull", "relay"] as const) {
    for (const name of ["one.bin", "sixty-four.bin"]) {
      it(`copies ${name} from peer1 to peer2 in ${mode} mode, verified`, async () => {
        const as = `${mode}/${name}`;
        const result = await transfer([...N, "--from", "peer1", "--to", "peer2", "--filename", name, "--as", as, "--mode", mode]);
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
        expect(result.stdout.toString()).toContain(`sha256 ${seeded[name]!.sha256} verified`);
        await expectCopy("peer2", as, seeded[name]!);
      });
    }

    it(`fans out to two peers at once in ${mode} mode`, async () => {
      const as = `fan-${mode}.bin`;
      const result = await transfer([
        ...N,
        "--from",
        "peer1",
        "--to",
        "peer2,peer3",
        "--filename",
        "one.bin",
        "--as",
        as,
        "--mode",
        mode,
        "--json",
      ]);
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout.toString()) as { results: { to: string; ok: boolean; sha256: string }[] };
      expect(report.results.map((r) => [r.to, r.ok, r.sha256])).toEqual([
        ["peer2", true, seeded["one.bin"]!.sha256],
        ["peer3", true, seeded["one.bin"]!.sha256],
      ]);
      await expectCopy("peer2", as, seeded["one.bin"]!);
      await expectCopy("peer3", as, seeded["one.bin"]!);
    });

    it(`fails with exit 1 and a clear reason for a missing source file (${mode}), storing nothing`, async () => {
      const result = await transfer([...N, "--from", "peer1", "--to", "peer2", "--filename", "no-such.bin", "--mode", mode]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`error: peer2: peer1 has no file "no-such.bin".`);
      expect(await net.client("peer2").headFile("no-such.bin")).toBeNull();
    });

    it(`fails for a dead destination (${mode}) while the live one still gets its copy`, async () => {
      const ghostPort = await freePorts(1);
      const withGhost = join(tmp, `ghost-${mode}.json`);
      const network = JSON.parse(await readFile(net.file, "utf8")) as { peers: object[] };
      network.peers.push({ name: "ghost", url: `http://127.0.0.1:${ghostPort}`, token: "x" });
      await writeFile(withGhost, JSON.stringify(network));

      const as = `ghost-${mode}.bin`;
      const result = await transfer([
        "--network",
        withGhost,
        "--from",
        "peer1",
        "--to",
        "peer3,ghost",
        "--filename",
        "one.bin",
        "--as",
        as,
        "--mode",
        mode,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`error: ghost: Could not reach ghost: connection refused.`);
      expect(result.stdout.toString()).toContain(`peer3: ${as} ← peer1 (${mode})`);
      await expectCopy("peer3", as, seeded["one.bin"]!);
    });
  }

  it("refuses usage mistakes with exit 2", async () => {
    const noTo = await transfer([...N, "--from", "peer1", "--filename", "one.bin"]);
    expect(noTo.code).toBe(2);
    expect(noTo.stderr).toMatch(/^error: --to is required\.\nusage: edgepeer transfer /);
    const badMode = await transfer([...N, "--from", "peer1", "--to", "peer2", "--filename", "one.bin", "--mode", "teleport"]);
    expect(badMode.code).toBe(2);
    const self = await transfer([...N, "--from", "peer1", "--to", "peer1", "--filename", "one.bin"]);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/onto itself/);
    const unknown = await transfer([...N, "--from", "peer1", "--to", "peer7", "--filename", "one.bin"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^error: No peer "peer7" in .*network\.json \(known: peer1, peer2, peer3\)\.$/);
  });

  it("runs as `npm run transfer -- …` and as `edgepeer transfer`", async () => {
    const { stdout } = await promisify(execFile)(
      "npm",
      ["run", "-s", "transfer", "--", ...N, "--from", "peer1", "--to", "peer3", "--filename", "one.bin", "--as", "via-npm.bin"],
      { cwd: ROOT, env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } },
    );
    expect(stdout).toContain("peer3: via-npm.bin ← peer1 (pull)");
    await expectCopy("peer3", "via-npm.bin", seeded["one.bin"]!);
    const viaCli = await cli([
      ...N,
      "transfer",
      "--from",
      "peer3",
      "--to",
      "peer1",
      "--filename",
      "via-npm.bin",
      "--as",
      "back.bin",
      "--mode",
      "relay",
    ]);
    expect(viaCli.code, viaCli.stderr).toBe(0);
    await expectCopy("peer1", "back.bin", seeded["one.bin"]!);
  });
});
