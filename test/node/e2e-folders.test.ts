import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileSource } from "../../src/client/node";
import { type TestNetwork, cli, makeTemp, removeTemp, seededFile, startNetwork } from "../support/network";
import { readZip } from "../support/zip";

const run = promisify(execFile);

let net: TestNetwork;
let tmp: string;
let N: string[];
/** The 200 files of the folder: name on the peer (under `tree/`) → local path. */
const files = new Map<string, { path: string; size: number; sha256: string }>();

beforeAll(async () => {
  tmp = await makeTemp("folders");
  net = await startNetwork({ peers: 1 });
  N = ["--network", net.file, "--peer", "peer1"];
  const client = net.client("peer1");
  const names = Array.from({ length: 200 }, (_, i) => `dir ${i % 7}/sub-${i % 3}/fïle ${i}.bin`);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < names.length; i = next++) {
      const name = names[i] as string;
      // Sizes from empty to ~128 KiB, each file its own bytes.
      const file = await seededFile(join(tmp, `src-${i}.bin`), (i * 7919) % 131_072, `folder-${i}`);
      await client.upload(`tree/${name}`, await fileSource(file.path), { sha256: file.sha256 });
      files.set(name, file);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}, 120_000);

afterAll(async () => {
  await net?.stop();
  await removeTemp(tmp);
  await removeTemp(net?.dir ?? "");
});

/** Every file under `dir`, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  }
  return out.sort();
}

describe("a folder of 200 files through the CLI", () => {
  it("get-folder --save writes every file byte-identical, verified, with no temporary file left", async () => {
    const dir = join(tmp, "saved");
    const got = await cli([...N, "get-folder", "--prefix", "tree/", "--save", dir]);
    expect(got.stderr.toString()).toBe("");
    expect(got.code).toBe(0);
    expect(got.stdout.toString()).toMatch(/^saved 200 files under tree\/ to .*each verified by SHA-256/);
    expect(await tree(dir)).toEqual([...files.keys()].sort());
    for (const [name, file] of files) {
      expect((await readFile(join(dir, name))).equals(await readFile(file.path)), name).toBe(true);
    }
  });

  it("get-folder --zip saves one zip that unzip and a zip reader find byte-identical", async () => {
    const zipPath = join(tmp, "tree.zip");
    const got = await cli([...N, "--json", "get-folder", "--prefix", "tree/", "--zip", zipPath]);
    expect(got.code).toBe(0);
    const { size } = JSON.parse(got.stdout.toString()) as { size: number };
    const bytes = await readFile(zipPath);
    expect(bytes.length).toBe(size);
    const zip = await readZip(new Blob([bytes]).stream(), {
      sizes: new Map([...files].map(([name, f]) => [name, f.size])),
      keep: () => true,
    });
    expect(zip.entries.map((e) => e.name).sort()).toEqual([...files.keys()].sort());
    for (const entry of zip.entries) {
      expect(Buffer.from(entry.data!).equals(await readFile(files.get(entry.name)!.path)), entry.name).toBe(true);
    }
    if (existsSync("/usr/bin/unzip")) {
      const out = join(tmp, "unzipped");
      await run("unzip", ["-q", zipPath, "-d", out]);
      expect(await tree(out)).toEqual([...files.keys()].sort());
      for (const [name, file] of files) expect((await readFile(join(out, name))).equals(await readFile(file.path)), name).toBe(true);
    }
  });

  it("mkdir, list-files --delimiter, cp and mv of a file and a folder, rm with and without --recursive", async () => {
    expect((await cli([...N, "mkdir", "--path", "tree/empty ü"])).code).toBe(0);
    const level = await cli([...N, "--json", "list-files", "--prefix", "tree/", "--delimiter"]);
    const listed = JSON.parse(level.stdout.toString()) as { files: unknown[]; folders: string[] };
    expect(listed.files).toEqual([]);
    expect(listed.folders).toEqual([...Array.from({ length: 7 }, (_, i) => `tree/dir ${i}/`), "tree/empty ü/"].sort());

    const one = "dir 0/sub-0/fïle 0.bin";
    const cp = await cli([...N, "--json", "cp", "--from", `tree/${one}`, "--to", "copies/one.bin"]);
    expect(cp.code).toBe(0);
    expect(JSON.parse(cp.stdout.toString())).toMatchObject({ name: "copies/one.bin", sha256: files.get(one)!.sha256 });
    // A second copy onto it is refused (exit 1) unless --overwrite.
    expect((await cli([...N, "cp", "--from", `tree/${one}`, "--to", "copies/one.bin"])).code).toBe(1);
    expect((await cli([...N, "cp", "--from", `tree/${one}`, "--to", "copies/one.bin", "--overwrite"])).code).toBe(0);

    const folder = await cli([...N, "--json", "cp", "--from", "tree/dir 1/", "--to", "copies/dir 1"]);
    expect(folder.code).toBe(0);
    const inDir1 = [...files.keys()].filter((n) => n.startsWith("dir 1/"));
    expect(JSON.parse(folder.stdout.toString())).toMatchObject({ files: inDir1.length });

    expect((await cli([...N, "mv", "--from", "copies/dir 1/", "--to", "moved/dir 1"])).code).toBe(0);
    const client = net.client("peer1");
    const moved = [];
    for await (const f of client.allFiles("moved/dir 1/")) moved.push(f);
    expect(moved.length).toBe(inDir1.length);
    const gone = [];
    for await (const f of client.allFiles("copies/dir 1/")) gone.push(f);
    expect(gone).toEqual([]);
    expect((await cli([...N, "mv", "--from", "copies/one.bin", "--to", "moved/one.bin"])).code).toBe(0);
    expect(await client.headFile("copies/one.bin")).toBeNull();

    const notEmpty = await cli([...N, "rm", "--prefix", "moved/"]);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.stderr.toString()).toMatch(/^error: .*--recursive/);
    const all = await cli([...N, "--json", "rm", "--prefix", "moved/", "--recursive"]);
    expect(JSON.parse(all.stdout.toString())).toEqual({ folder: "moved/", deleted: inDir1.length + 1 });
    expect((await cli([...N, "rm", "--prefix", "tree/empty ü"])).code).toBe(0);
    expect((await cli([...N, "rm", "--filename", `tree/${one}`])).code).toBe(0);
    expect(await client.headFile(`tree/${one}`)).toBeNull();
    files.delete(one);

    const usage = await cli([...N, "rm", "--filename", "x", "--prefix", "y"]);
    expect(usage.code).toBe(2);
    expect((await cli([...N, "get-folder", "--prefix", "tree/"])).code).toBe(2);
  });
});
