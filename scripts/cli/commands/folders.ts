import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { type FileMeta, type PeerClient, PeerError } from "../../../src/client/index";
import { saveStream } from "../../../src/client/node";
import { UsageError } from "../args";
import type { Command } from "../command";
import type { Context } from "../context";
import { Progress, formatBytes, rate } from "../output";

/** Files downloaded at once by `get-folder --save`. */
const CONCURRENCY = 4;

/** A line on stderr while the peer works (server-side: no bytes to count), when it is a terminal. */
function working(ctx: Context, text: string): () => void {
  if (ctx.json || !process.stderr.isTTY) return () => {};
  process.stderr.write(`${text}…`);
  return () => process.stderr.write("\r\x1b[K");
}

export const mkdirCommand: Command = {
  name: "mkdir",
  summary: "create an (empty) folder",
  usage: "--path PATH",
  flags: { path: { kind: "string", value: "PATH", help: "the folder, e.g. docs/2025" } },
  async run(ctx) {
    const path = ctx.flags.required("path");
    const client = await ctx.client();
    const made = await client.createFolder(path);
    if (ctx.json) ctx.printJson(made);
    else ctx.print(`created folder ${made.path} on ${client.name}`);
  },
};

const copyFlags = {
  from: { kind: "string", value: "NAME", help: "a file, or a folder when it ends in /" },
  to: { kind: "string", value: "NAME", help: "the new name (a folder's new path)" },
  overwrite: { kind: "boolean", help: "replace files that exist at the destination" },
} as const;

/** `cp` and `mv`: a file, or a whole folder when `--from` ends in `/`; the peer copies, no byte passes through here. */
async function copyOrMove(ctx: Context, move: boolean): Promise<void> {
  const from = ctx.flags.required("from");
  const to = ctx.flags.required("to");
  const overwrite = ctx.flags.bool("overwrite");
  const client = await ctx.client();
  const verb = move ? "moved" : "copied";
  const done = working(ctx, `${move ? "moving" : "copying"} ${from} → ${to} on ${client.name}`);
  const started = performance.now();
  try {
    if (from.endsWith("/")) {
      const totals = move ? await client.moveFolder(from, to, { overwrite }) : await client.copyFolder(from, to, { overwrite });
      done();
      if (ctx.json) return ctx.printJson({ from, to, ...totals });
      const target = to.endsWith("/") ? to : `${to}/`;
      return ctx.print(
        `${verb} ${from} → ${target} on ${client.name}: ${totals.files} files, ${formatBytes(totals.bytes)} (${rate(totals.bytes, started)})`,
      );
    }
    const meta = move ? await client.moveFile(from, to, { overwrite }) : await client.copyFile(from, to, { overwrite });
    done();
    if (ctx.json) return ctx.printJson(meta);
    ctx.print(`${verb} ${from} → ${meta.name} on ${client.name}: ${formatBytes(meta.size)}, sha256 ${meta.sha256 ?? "-"}`);
  } finally {
    done();
  }
}

export const cp: Command = {
  name: "cp",
  summary: "copy a file, or a folder (--from ending in /), inside a peer; SHA-256 kept",
  usage: "--from NAME --to NAME [--overwrite]",
  flags: copyFlags,
  run: (ctx) => copyOrMove(ctx, false),
};

export const mv: Command = {
  name: "mv",
  summary: "move (rename) a file, or a folder (--from ending in /); the source goes once the copy is whole",
  usage: "--from NAME --to NAME [--overwrite]",
  flags: copyFlags,
  run: (ctx) => copyOrMove(ctx, true),
};

export const rmCommand: Command = {
  name: "rm",
  summary: "delete a file, or a folder (--prefix; with --recursive when it is not empty)",
  usage: "(--filename NAME | --prefix PATH [--recursive])",
  flags: {
    filename: { kind: "string", value: "NAME" },
    prefix: { kind: "string", value: "PATH", help: "a folder" },
    recursive: { kind: "boolean", help: "delete every file under the folder" },
  },
  async run(ctx) {
    const name = ctx.flags.string("filename");
    const folder = ctx.flags.string("prefix");
    if ((name === undefined) === (folder === undefined))
      throw new UsageError("Pass exactly one of --filename and --prefix.", `usage: edgepeer rm ${this.usage}`);
    const client = await ctx.client();
    if (name !== undefined) {
      await client.deleteFile(name);
      return ctx.json ? ctx.printJson({ deleted: name }) : ctx.print(`deleted ${name} on ${client.name}`);
    }
    const path = folder as string;
    let deleted: number;
    try {
      deleted = await client.deleteFolder(path, { recursive: ctx.flags.bool("recursive") });
    } catch (err) {
      if (err instanceof PeerError && err.code === "conflict")
        throw new PeerError(
          "conflict",
          `The folder ${path} is not empty on ${client.name}; add --recursive to delete every file under it.`,
          err.status,
          err.peer,
        );
      throw err;
    }
    if (ctx.json) ctx.printJson({ folder: path, deleted });
    else ctx.print(`deleted the folder ${path} on ${client.name}${deleted ? ` and its ${deleted} file${deleted === 1 ? "" : "s"}` : ""}`);
  },
};

export const getFolder: Command = {
  name: "get-folder",
  summary: "download every file under a folder into a directory (each verified by SHA-256, atomically) or as one zip",
  usage: "--prefix PATH (--save DIR | --zip FILE)",
  flags: {
    prefix: { kind: "string", value: "PATH", help: "the folder (or any prefix of names)" },
    save: { kind: "string", value: "DIR", help: "a directory; files keep their paths below the folder" },
    zip: { kind: "string", value: "FILE", help: "one zip file instead (built by the peer)" },
  },
  streams: true,
  async run(ctx) {
    const prefix = ctx.flags.required("prefix");
    const dir = ctx.flags.string("save");
    const zip = ctx.flags.string("zip");
    if ((dir === undefined) === (zip === undefined))
      throw new UsageError("Pass exactly one of --save and --zip.", `usage: edgepeer get-folder ${this.usage}`);
    const client = await ctx.client();
    if (zip !== undefined) return saveZip(ctx, client, prefix, zip);
    return saveFolder(ctx, client, prefix, dir as string);
  },
};

/** The zip of `prefix`, saved atomically at `path` once exactly its Content-Length arrived. */
async function saveZip(ctx: Context, client: PeerClient, prefix: string, path: string): Promise<void> {
  const started = performance.now();
  const zip = await client.zip({ prefix });
  const progress = new Progress(`zip ${prefix}`, zip.size, !ctx.json && Boolean(process.stderr.isTTY));
  const temp = `${path}.part-${randomBytes(4).toString("hex")}`;
  try {
    const saved = await saveStream(zip.body, temp, { onProgress: (n) => progress.update(n) });
    progress.done();
    if (saved.bytes !== zip.size)
      throw new PeerError("verify_failed", `The zip ended after ${saved.bytes} of its ${zip.size} bytes; nothing was saved.`);
    await rename(temp, path);
    if (ctx.json) ctx.printJson({ prefix, path, size: saved.bytes, sha256: saved.sha256 });
    else ctx.print(`saved ${prefix} as ${path}: ${formatBytes(saved.bytes)} (${rate(saved.bytes, started)})`);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    progress.done();
  }
}

/**
 * Every file under `prefix` into `dir`, named relative to the prefix's folder, a few at a
 * time; each is written to a temporary file and renamed into place only once its SHA-256
 * matches the peer's. The first failure stops the rest (files already saved stay, all whole).
 */
async function saveFolder(ctx: Context, client: PeerClient, prefix: string, dir: string): Promise<number> {
  const base = prefix.slice(0, prefix.lastIndexOf("/") + 1);
  const root = resolve(dir);
  const files: FileMeta[] = [];
  for await (const f of client.allFiles(prefix)) files.push(f);
  if (files.length === 0) throw new PeerError("not_found", `No file under "${prefix}" on ${client.name}.`, 404, client.name);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const progress = new Progress(`get ${prefix}`, total, !ctx.json && Boolean(process.stderr.isTTY));
  const started = performance.now();
  let done = 0;
  let next = 0;
  const saved: Array<{ name: string; path: string; size: number; sha256: string }> = [];
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i] as FileMeta;
      const path = join(root, ...file.name.slice(base.length).split("/"));
      // Names have no `.`/`..` segments (the contract), but a file must never land outside the directory.
      if (relative(root, path).startsWith(`..${sep}`)) throw new PeerError("bad_response", `"${file.name}" would be saved outside ${dir}.`);
      await mkdir(dirname(path), { recursive: true });
      const download = await client.getFile(file.name);
      const expected = download.sha256 ?? file.sha256;
      if (!expected) throw new PeerError("verify_failed", `${client.name} gives no SHA-256 for "${file.name}", so it cannot be verified.`);
      let before = 0;
      const result = await saveStream(download.body, path, {
        expectedSha256: expected,
        onProgress: (n) => {
          done += n - before;
          before = n;
          progress.update(done);
        },
      });
      saved.push({ name: file.name, path, size: result.bytes, sha256: result.sha256 });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  } catch (err) {
    next = files.length;
    throw err;
  } finally {
    progress.done();
  }
  if (ctx.json) ctx.printJson({ prefix, dir, files: saved.length, bytes: total });
  else
    ctx.print(
      `saved ${saved.length} files under ${prefix} to ${dir}: ${formatBytes(total)}, each verified by SHA-256 (${rate(total, started)})`,
    );
  return 0;
}
