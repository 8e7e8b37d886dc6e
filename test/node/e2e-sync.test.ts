/**
 * `edgepeer check` / `edgepeer sync` / `transfer --prefix` and the library under them
 * (`checkPeers`, `syncPeers`) on a real network of two peers: 300 files from 0 bytes to
 * 64 MiB, unicode names, nested folders, with planted differences on the destination.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FetchLike, type FileMeta, PeerClient, checkPeers, syncPeers } from "../../src/client/index";
import { fileSource } from "../../src/client/node";
import {
  type TestNetwork,
  cli,
  makeTemp,
  removeTemp,
  seededFile,
  startNetwork,
  waitFor,
  workerdPid,
  seededBytes,
  sha256Hex as sha,
} from "../support/network";

const MiB = 1024 * 1024;
/** For the tests that move the whole folder (tens of MiB, 300 files) on a loaded machine. */
const SLOW = 400_000;
let net: TestNetwork;
let tmp: string;
let N: string[];

/** What A (peer1) holds under `photos/`: name → SHA-256 and size. */
const onA = new Map<string, { size: number; sha256: string }>();
const FOLDERS = ["", "2024/", "2024/trip/", "été/", "日本/深い/"];
const STEMS = ["café", "📷 snap", "～wave", "plain", "Ünïcode"];
const SIZES = [0, 1, 100, 4096, 20_000, 65_536, 250_003];
const BIG = { "photos/big/64.bin": 64 * MiB, "photos/big/12.bin": 12 * MiB };

/** The i-th small file of A: nested folders, unicode names, sizes from 0 bytes up. */
const nameOf = (i: number) => `photos/${FOLDERS[i % FOLDERS.length]}${STEMS[Math.floor(i / FOLDERS.length) % STEMS.length]}-${i}.bin`;
const sizeOf = (i: number) => SIZES[i % SIZES.length] as number;

/** Planted on B (peer2): what the first check must report, exactly. */
const SAME_SIZE = [nameOf(3), "photos/big/64.bin"]; // 4096 bytes and 64 MiB, other content
const OTHER_SIZE = nameOf(8); // 1 byte on A, 2 on B
const MISSING = [nameOf(12), "photos/big/12.bin", nameOf(0)]; // 64 KiB, 12 MiB, 0 bytes
const EXTRA = ["photos/extra/only-b.txt", "photos/日本/only-b 📷.bin"];
/** Outside the prefix (`photos2/` starts with `photos`): never compared, never deleted. */
const OUTSIDE_A = "photos2/only-a.bin";
const OUTSIDE_B = "photos2/keep.bin";

const bytesOf = (seed: string, size: number) => new Uint8Array(seededBytes(size, seed));

/** A client of `peer` that records every request it makes. */
function counted(peer: string): { client: PeerClient; calls: string[] } {
  const { url, token } = net.peers.find((p) => p.name === peer)!;
  const calls: string[] = [];
  const fetch: FetchLike = (target, init) => {
    calls.push(`${init.method} ${target.pathname}`);
    return globalThis.fetch(target, init);
  };
  return { client: new PeerClient({ url, token, name: peer, fetch }), calls };
}

/** Every file under `prefix` on `peer` (name → meta). */
async function listing(peer: string, prefix: string): Promise<Map<string, FileMeta>> {
  const files = new Map<string, FileMeta>();
  for await (const f of net.client(peer).allFiles(prefix)) files.set(f.name, f);
  return files;
}

/** Puts many small files, eight at a time. */
async function putAll(peer: string, files: [string, Uint8Array][]): Promise<void> {
  const client = net.client(peer);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < files.length) {
        const [name, bytes] = files[next++]!;
        await client.putFile(name, bytes);
      }
    }),
  );
}

beforeAll(async () => {
  tmp = await makeTemp("sync");
  // A killed peer stays down: the kill test makes its own crash and restart.
  net = await startNetwork({ peers: 2, args: ["--no-restart"] });
  N = ["--network", net.file];
  const small: [string, Uint8Array][] = [];
  for (let i = 0; small.length < 300 - Object.keys(BIG).length; i++) {
    const name = nameOf(i);
    const bytes = bytesOf(name, sizeOf(i));
    small.push([name, bytes]);
    onA.set(name, { size: bytes.byteLength, sha256: sha(bytes) });
  }
  await putAll("peer1", [...small, [OUTSIDE_A, bytesOf(OUTSIDE_A, 10)]]);
  for (const [name, size] of Object.entries(BIG)) {
    const file = await seededFile(join(tmp, `${size}.bin`), size, name);
    await net.client("peer1").upload(name, await fileSource(file.path), { sha256: file.sha256 });
    onA.set(name, { size, sha256: file.sha256 });
    if (!MISSING.includes(name) && !SAME_SIZE.includes(name)) {
      await net.client("peer2").upload(name, await fileSource(file.path), { sha256: file.sha256 });
    }
  }
  expect(onA.size).toBe(300);

  // B: the same files, but for the planted differences.
  const onB: [string, Uint8Array][] = [];
  for (const [name, bytes] of small) {
    if (MISSING.includes(name)) continue;
    if (SAME_SIZE.includes(name)) onB.push([name, bytesOf(`changed ${name}`, bytes.byteLength)]);
    else if (name === OTHER_SIZE) onB.push([name, bytesOf(name, bytes.byteLength + 1)]);
    else onB.push([name, bytes]);
  }
  for (const name of [...EXTRA, OUTSIDE_B]) onB.push([name, bytesOf(name, 777)]);
  await putAll("peer2", onB);
  const changed = await seededFile(join(tmp, "64-changed.bin"), 64 * MiB, "changed");
  await net.client("peer2").upload("photos/big/64.bin", await fileSource(changed.path), { sha256: changed.sha256 });
}, 300_000);

afterAll(async () => {
  await net?.stop();
  await removeTemp(tmp);
  await removeTemp(net?.dir ?? "");
});

const differing = [...SAME_SIZE, OTHER_SIZE].sort();
const identicalAtFirst = 300 - differing.length - MISSING.length;

describe("edgepeer check", () => {
  it("finds every planted difference: equal-size content change, other size, missing, extra; photos2/ stays out", async () => {
    const run = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const lines = run.stdout.toString().trim().split("\n");
    expect(lines.at(-1)).toBe(`${identicalAtFirst} identical, 3 differ, 3 only on A, 2 only on B`);
    const body = lines.slice(0, -1).sort();
    expect(body).toEqual(
      [
        ...SAME_SIZE.map((n) => `differs    ${n}  (same size, SHA-256 differs)`),
        `differs    ${OTHER_SIZE}  (size 1 B on A, 2 B on B)`,
        ...MISSING.map((n) => `only on A  ${n}`),
        ...EXTRA.map((n) => `only on B  ${n}`),
      ].sort(),
    );
  });

  it("--json reports each difference with both sides' size and SHA-256", async () => {
    const run = await cli([...N, "--json", "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos/"]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout.toString()) as {
      identical: number;
      differences: { status: string; path: string; a: { sha256: string } | null; b: { sha256: string } | null }[];
    };
    expect(report.identical).toBe(identicalAtFirst);
    const byStatus = (s: string) => report.differences.filter((d) => d.status === s).map((d) => `photos/${d.path}`);
    expect(byStatus("differs").sort()).toEqual(differing);
    expect(byStatus("onlyA").sort()).toEqual([...MISSING].sort());
    expect(byStatus("onlyB").sort()).toEqual([...EXTRA].sort());
    const same = report.differences.find((d) => d.path === "big/64.bin");
    expect(same?.a?.sha256).toBe(onA.get("photos/big/64.bin")?.sha256);
    expect(same?.b?.sha256).not.toBe(same?.a?.sha256);
  });

  it("asks for listing pages only: requests follow the pages, not the file count", async () => {
    const a = counted("peer1");
    const b = counted("peer2");
    const report = await checkPeers(a.client, b.client, { prefix: "photos", pageSize: 40 });
    expect([report.identical, report.differ, report.onlyOnA, report.onlyOnB]).toEqual([identicalAtFirst, 3, 3, 2]);
    // 300 files on A and 299 on B under photos/, 40 a page.
    expect(a.calls).toEqual(Array(8).fill("GET /api/files"));
    expect(b.calls).toEqual(Array(8).fill("GET /api/files"));
    expect(report.pages).toEqual({ a: 8, b: 8 });
  });
});

describe("edgepeer sync", () => {
  it("--dry-run prints the plan and changes nothing", async () => {
    const before = await listing("peer2", "");
    const run = await cli([...N, "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--delete", "--dry-run"]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.toString().trim().split("\n");
    const copies = lines.filter((l) => l.startsWith("copy ")).map((l) => /^copy {4}(.+) {2}\(/.exec(l)?.[1]);
    const deletes = lines.filter((l) => l.startsWith("delete ")).map((l) => /^delete {2}(.+) {2}\(/.exec(l)?.[1]);
    expect(copies.sort()).toEqual([...differing, ...MISSING].sort());
    expect(deletes.sort()).toEqual([...EXTRA].sort());
    expect(lines.at(-1)).toMatch(new RegExp(`^dry run: would copy 6 \\(.+\\), delete 2, identical ${identicalAtFirst}$`));
    expect(await listing("peer2", "")).toEqual(before);
  });

  it("copies what differs (pull), keeps B-only files without --delete, and a second check shows only those", {
    timeout: SLOW,
  }, async () => {
    const moved = [...differing, ...MISSING].reduce((n, name) => n + onA.get(name)!.size, 0);
    const run = await cli([...N, "--json", "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.toString()) as {
      copied: number;
      copiedBytes: number;
      deleted: number;
      identical: number;
      failed: unknown[];
    };
    expect(report).toMatchObject({ copied: 6, copiedBytes: moved, deleted: 0, identical: identicalAtFirst, failed: [] });

    const again = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(again.code).toBe(1);
    expect(again.stdout.toString().trim().split("\n").sort()).toEqual(
      ["300 identical, 0 differ, 0 only on A, 2 only on B", ...EXTRA.map((n) => `only on B  ${n}`)].sort(),
    );
    // The equal-size change really arrived: B's bytes are A's.
    const bytes = await net.client("peer2").getFileBytes(nameOf(3));
    expect(sha(bytes)).toBe(onA.get(nameOf(3))?.sha256);
  });

  it("--delete removes only the B-only files under the prefix; then check is identical", async () => {
    const run = await cli([...N, "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--delete"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.toString().trim()).toBe("copied 0 (0 B), deleted 2, identical 300, failed 0");
    for (const name of EXTRA) expect(await net.client("peer2").headFile(name)).toBeNull();
    expect(await net.client("peer2").headFile(OUTSIDE_B)).not.toBeNull();
    expect(await net.client("peer2").headFile(OUTSIDE_A)).toBeNull();

    const check = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(check.code, check.stdout.toString()).toBe(0);
    expect(check.stdout.toString()).toBe("300 identical, 0 differ, 0 only on A, 0 only on B\n");
  });

  it("a second sync moves nothing: listing requests only, no byte", async () => {
    const a = counted("peer1");
    const b = counted("peer2");
    const report = await syncPeers(a.client, b.client, { prefix: "photos", delete: true });
    expect(report).toMatchObject({ copied: 0, copiedBytes: 0, deleted: 0, identical: 300, failed: [] });
    // A page may hold fewer than 1000 files when the peer adds metadata; the calls follow the pages.
    expect(a.calls).toEqual(Array(report.plan.pages.a).fill("GET /api/files"));
    expect(b.calls).toEqual(Array(report.plan.pages.b).fill("GET /api/files"));
    expect(report.plan.pages.a).toBeLessThanOrEqual(3);
  });

  it("pulls small files in batches: one request to A signs a batch's links, one to B pulls them", async () => {
    const a = counted("peer1");
    const b = counted("peer2");
    const report = await syncPeers(a.client, b.client, { prefix: "photos/été", as: "batched/été", concurrency: 2 });
    const files = report.plan.copies.length;
    expect(files).toBeGreaterThan(30);
    expect(report).toMatchObject({ copied: files, failed: [], copiedVia: { pull: files, relay: 0, copy: 0 } });
    const posts = (calls: string[]) => calls.filter((c) => !c.startsWith("GET /api/files"));
    // No share link registered, no single pull: a few batches for the whole folder.
    const batches = posts(b.calls).length;
    expect(posts(a.calls)).toEqual(Array(batches).fill("POST /api/links"));
    expect(posts(b.calls)).toEqual(Array(batches).fill("POST /api/pulls"));
    expect(batches).toBeLessThanOrEqual(Math.ceil(files / 5));
    const check = await checkPeers(net.client("peer1"), net.client("peer2"), { prefix: "photos/été", as: "batched/été" });
    expect([check.identical, check.differ, check.onlyOnA, check.onlyOnB]).toEqual([files, 0, 0, 0]);
  });

  it("folder markers are not files: empty folders on either side change nothing, and --delete keeps them", async () => {
    await net.client("peer1").createFolder("photos/empty on A");
    await net.client("peer2").createFolder("photos/empty on B");
    const check = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(check.stdout.toString()).toBe("300 identical, 0 differ, 0 only on A, 0 only on B\n");
    const run = await cli([...N, "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--delete"]);
    expect(run.stdout.toString()).toBe("copied 0 (0 B), deleted 0, identical 300, failed 0\n");
    const folders = await net.client("peer2").listFiles({ prefix: "photos/", delimiter: "/" });
    expect(folders.folders).toContain("photos/empty on B/");
  });

  it("relays through the caller into another folder (--as), multipart for big files, verified", { timeout: SLOW }, async () => {
    const run = await cli([
      ...N,
      "--multipart-threshold",
      "8MiB",
      "--part-size",
      "5MiB",
      "sync",
      "--from",
      "peer1",
      "--to",
      "peer2",
      "--prefix",
      "photos",
      "--as",
      "backup/photos",
      "--mode",
      "relay",
      "--concurrency",
      "3",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toMatch(/^copied 300 \(.+\), deleted 0, identical 0, failed 0\n$/);
    const check = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--as", "backup/photos/"]);
    expect(check.stdout.toString()).toBe("300 identical, 0 differ, 0 only on A, 0 only on B\n");
    expect(check.code).toBe(0);
  });

  it("within one peer, copies into another folder; refuses a folder into itself", { timeout: SLOW }, async () => {
    const run = await cli([...N, "sync", "--from", "peer1", "--to", "peer1", "--prefix", "photos/2024", "--as", "copy/2024"]);
    expect(run.code, run.stderr).toBe(0);
    const copied = [...onA.keys()].filter((n) => n.startsWith("photos/2024/")).length;
    expect(run.stdout.toString()).toMatch(new RegExp(`^copied ${copied} \\(.+\\), deleted 0, identical 0, failed 0\\n$`));
    const check = await cli([...N, "check", "--from", "peer1", "--to", "peer1", "--prefix", "photos/2024", "--as", "copy/2024"]);
    expect(check.stdout.toString()).toBe(`${copied} identical, 0 differ, 0 only on A, 0 only on B\n`);

    // Server-side: one copy request per file, no byte through the client.
    const peer = counted("peer1");
    const report = await syncPeers(peer.client, peer.client, { prefix: "photos/été", as: "copy/été" });
    const files = [...onA.keys()].filter((n) => n.startsWith("photos/été/")).length;
    expect(report.copiedVia).toEqual({ pull: 0, relay: 0, copy: files });
    expect(peer.calls.filter((c) => c.startsWith("POST ") && c.endsWith("/copy"))).toHaveLength(files);
    expect(peer.calls.filter((c) => c !== "GET /api/files" && !c.endsWith("/copy"))).toEqual([]);

    const into = await cli([...N, "sync", "--from", "peer1", "--to", "peer1", "--prefix", "photos", "--as", "photos/inner"]);
    expect(into.code).toBe(2);
    expect(into.stderr).toMatch(/overlap: a folder cannot be synced into itself/);
  });

  it("transfer --prefix copies a folder with the same engine, skipping what is there", async () => {
    const args = [...N, "transfer", "--from", "peer1", "--to", "peer2", "--prefix", "photos2", "--as", "t/photos2"];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.toString()).toBe("peer2: copied 1 (10 B), deleted 0, identical 0, failed 0\n");
    const second = await cli(args);
    expect(second.stdout.toString()).toBe("peer2: copied 0 (0 B), deleted 0, identical 1, failed 0\n");
  });
});

describe("Ctrl-C", () => {
  it("stops starting new files, lets those in flight end, prints the summary; a rerun moves the rest", { timeout: SLOW }, async () => {
    const args = [...N, "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--as", "ctrl-c/photos", "--concurrency", "1"];
    const running = cli(args);
    let ended = false;
    void running.then(() => (ended = true));
    await waitFor(async () => ended || (await listing("peer2", "ctrl-c/")).size >= 20, 120_000, "copies arriving");
    expect(ended, "the sync ended before it could be interrupted").toBe(false);
    running.child.kill("SIGINT");
    const stopped = await running;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toBe("note: interrupted; run again to move what is left.\n");
    const copied = Number(/^copied (\d+) \(/.exec(stopped.stdout.toString())?.[1]);
    expect(copied).toBeGreaterThanOrEqual(20);
    expect(copied).toBeLessThan(300);
    // What was reported copied is there whole: nothing half-written, nothing in flight left out.
    expect((await listing("peer2", "ctrl-c/")).size).toBe(copied);

    const rerun = await cli([...args.slice(0, -2), "--json"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout.toString())).toMatchObject({ copied: 300 - copied, identical: copied, failed: [] });
  });
});

describe("tokens", () => {
  it("--to-token gives B its own token (a network file without B's), and a wrong one is a clear 401", async () => {
    const network = JSON.parse(await readFile(net.file, "utf8")) as { peers: { name: string; token: string }[] };
    const real = network.peers.find((p) => p.name === "peer2")!.token;
    for (const p of network.peers) if (p.name === "peer2") p.token = "not-the-token";
    const file = join(tmp, "no-b-token.json");
    await writeFile(file, JSON.stringify(network));

    const refused = await cli(["--network", file, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*token.*\n$/i);
    const run = await cli(["--network", file, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--to-token", real]);
    const withFile = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos"]);
    expect(run.stderr).toBe("");
    expect(run.stdout.toString()).toBe(withFile.stdout.toString());
    expect(run.stdout.toString()).toMatch(/ identical, /);
  });
});

describe("a destination killed mid-sync", () => {
  it("fails the rest, names them, and a rerun moves only what is left", { timeout: SLOW }, async () => {
    const a = counted("peer1");
    const b = counted("peer2");
    const port = Number(new URL(b.client.url).port);
    let arrived = 0;
    const first = await syncPeers(a.client, b.client, {
      prefix: "photos",
      as: "killed/photos",
      concurrency: 2,
      onOutcome: (outcome) => {
        if (outcome.ok && ++arrived === 100) process.kill(workerdPid(port), "SIGKILL");
      },
    });
    expect(first.copied).toBeGreaterThanOrEqual(100);
    expect(first.failed.length).toBeGreaterThan(0);
    expect(first.copied + first.failed.length).toBe(300);
    expect(first.failed.every((f) => f.code === "unreachable")).toBe(true);

    // Restart the network on the same data (a crash: the runner and peer1's workerd too).
    process.kill(workerdPid(port - 1), "SIGKILL");
    process.kill(net.child.pid!, "SIGKILL");
    await net.stop();
    await waitFor(() => net.child.exitCode !== null || net.child.signalCode !== null, 30_000, "the runner to exit");
    net = await startNetwork({ peers: 2, dir: net.dir, port: net.port, args: ["--no-restart"] });

    const done = new Set(first.plan.copies.map((c) => c.to).filter((to) => !first.failed.some((f) => f.action.to === to)));
    const rerun = await cli([...N, "--json", "sync", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--as", "killed/photos"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const report = JSON.parse(rerun.stdout.toString()) as { copies: { to: string; size: number }[]; copiedBytes: number; copied: number };
    // Nothing that arrived before the kill moves again; everything else does, and only once.
    expect(report.copies.filter((c) => done.has(c.to))).toEqual([]);
    expect(report.copied).toBe(report.copies.length);
    const failedNames = new Set(first.failed.map((f) => f.action.to));
    expect(report.copies.every((c) => failedNames.has(c.to))).toBe(true);
    const total = [...onA.values()].reduce((n, f) => n + f.size, 0);
    expect(first.copiedBytes + report.copiedBytes).toBeLessThanOrEqual(total);
    expect(report.copiedBytes).toBe(report.copies.reduce((n, c) => n + c.size, 0));

    const check = await cli([...N, "check", "--from", "peer1", "--to", "peer2", "--prefix", "photos", "--as", "killed/photos"]);
    expect(check.stdout.toString()).toBe("300 identical, 0 differ, 0 only on A, 0 only on B\n");
  });
});
