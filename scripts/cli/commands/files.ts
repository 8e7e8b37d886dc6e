import { basename } from "node:path";
import { PeerError } from "../../../src/client/index";
import { fileSource, saveStream, sha256File, writeStream } from "../../../src/client/node";
import { UsageError } from "../args";
import type { Command } from "../command";
import { Progress, formatBytes, rate, table } from "../output";

export const putFile: Command = {
  name: "put-file",
  summary: "upload a file (multipart above the threshold), verified by SHA-256",
  usage: "--filepath PATH [--filename NAME] [--content-type TYPE] [--if-absent]",
  flags: { filepath: "string", filename: "string", "content-type": "string", "if-absent": "boolean" },
  streams: true,
  async run(ctx) {
    const path = ctx.flags.required("filepath");
    const name = ctx.flags.string("filename") ?? basename(path);
    const source = await fileSource(path).catch((err: NodeJS.ErrnoException) => {
      throw new PeerError("bad_request", err.code === "ENOENT" ? `No file at ${path}.` : `Cannot read ${path}: ${err.message}.`);
    });
    const client = await ctx.client();
    const sha256 = await sha256File(path);
    const progress = new Progress(`put ${name}`, source.size, !ctx.json && Boolean(process.stderr.isTTY));
    const started = performance.now();
    try {
      const meta = await client.upload(name, source, {
        sha256,
        contentType: ctx.flags.string("content-type"),
        onlyIfAbsent: ctx.flags.bool("if-absent"),
        onProgress: (sent) => progress.update(sent),
      });
      progress.done();
      if (ctx.json) ctx.printJson(meta);
      else
        ctx.print(`stored ${meta.name} on ${client.name}: ${formatBytes(meta.size)}, sha256 ${meta.sha256} (${rate(meta.size, started)})`);
    } finally {
      progress.done();
    }
  },
};

export const getFile: Command = {
  name: "get-file",
  summary: "download a file to stdout, or with --save to a file (atomically, SHA-256 checked)",
  usage: "--filename NAME [--save [PATH]]",
  flags: { filename: "string", save: "optional", output: "string" },
  streams: true,
  async run(ctx) {
    const name = ctx.flags.required("filename");
    const client = await ctx.client();
    const download = await client.getFile(name);
    const target = ctx.flags.string("output") ?? ctx.flags.string("save") ?? (ctx.flags.has("save") ? basename(name) : undefined);
    const progress = new Progress(`get ${name}`, download.size, !ctx.json && Boolean(process.stderr.isTTY) && target !== undefined);
    const started = performance.now();
    try {
      if (target === undefined) {
        const { sha256 } = await writeStream(download.body, process.stdout);
        if (download.sha256 && sha256 !== download.sha256) {
          throw new PeerError("verify_failed", `The bytes received have SHA-256 ${sha256}, not the peer's ${download.sha256}.`);
        }
        return;
      }
      const saved = await saveStream(download.body, target, {
        expectedSha256: download.sha256,
        onProgress: (n) => progress.update(n),
      });
      progress.done();
      if (ctx.json) ctx.printJson({ name, path: target, size: saved.bytes, sha256: saved.sha256 });
      else
        ctx.print(
          `saved ${name} to ${target}: ${formatBytes(saved.bytes)}, sha256 ${saved.sha256} verified (${rate(saved.bytes, started)})`,
        );
    } finally {
      progress.done();
    }
  },
};

export const listFiles: Command = {
  name: "list-files",
  aliases: ["ls"],
  summary: "list the files of a peer; with --delimiter one level, its folders first",
  usage: "[--prefix PREFIX] [--delimiter [/]]",
  flags: {
    prefix: "string",
    delimiter: { kind: "optional", value: "/", help: "one level: the files and sub-folders directly under the prefix" },
  },
  async run(ctx) {
    const client = await ctx.client();
    const prefix = ctx.flags.string("prefix");
    const oneLevel = ctx.flags.has("delimiter");
    const delimiter = ctx.flags.string("delimiter");
    if (delimiter !== undefined && delimiter !== "/")
      throw new UsageError("--delimiter is / (one level).", `usage: edgepeer list-files ${this.usage}`);
    const files = [];
    const folders: string[] = [];
    if (oneLevel) {
      let cursor: string | undefined;
      do {
        const page = await client.listFiles({ prefix, cursor, delimiter: "/" });
        files.push(...page.files);
        folders.push(...(page.folders ?? []));
        cursor = page.cursor ?? undefined;
      } while (cursor);
    } else for await (const f of client.allFiles(prefix)) files.push(f);
    if (ctx.json) return ctx.printJson(oneLevel ? { files, folders } : { files });
    if (files.length === 0 && folders.length === 0) return ctx.print(`no files on ${client.name}`);
    ctx.print(
      table([
        ["NAME", "SIZE", "SHA256", "UPLOADED"],
        ...folders.map((f) => [f, "folder", "-", ""]),
        ...files.map((f) => [f.name, formatBytes(f.size), f.sha256 ?? "-", f.uploaded ?? ""]),
      ]),
    );
  },
};

export const deleteFile: Command = {
  name: "delete-file",
  summary: "delete a file",
  usage: "--filename NAME",
  flags: { filename: "string" },
  async run(ctx) {
    const name = ctx.flags.required("filename");
    const client = await ctx.client();
    await client.deleteFile(name);
    if (ctx.json) ctx.printJson({ deleted: name });
    else ctx.print(`deleted ${name} on ${client.name}`);
  },
};

export const share: Command = {
  name: "share",
  summary: "print a signed link to this version of a file that works without a token until it expires",
  usage: "--filename NAME [--ttl SECONDS] [--password SECRET] [--max-downloads N]",
  flags: { filename: "string", ttl: "string", password: "string", "max-downloads": "string" },
  async run(ctx) {
    const name = ctx.flags.required("filename");
    const link = await (await ctx.client()).shareFile(name, {
      ttl: ctx.flags.int("ttl", 1),
      password: ctx.flags.string("password"),
      maxDownloads: ctx.flags.int("max-downloads", 1),
    });
    if (ctx.json) ctx.printJson(link);
    else ctx.print(link.url);
  },
};

export const findFile: Command = {
  name: "find-file",
  summary: "ask every known peer whether it has a file (exit 1 when none has)",
  usage: "--filename NAME",
  flags: { filename: "string" },
  async run(ctx) {
    const name = ctx.flags.required("filename");
    const client = await ctx.client();
    const network = await ctx.network();
    // The network file's peers (with their tokens) and whatever the target peer knows.
    const candidates = new Map<string, { name: string; url: string; token?: string }>();
    for (const p of network?.peers ?? []) candidates.set(p.url, p);
    if (!network?.peers.some((p) => p.url === client.url)) candidates.set(client.url, { name: client.name, url: client.url });
    const known = await client.peers().catch(() => []);
    for (const p of known) if (!candidates.has(p.url)) candidates.set(p.url, p);

    const answers = await Promise.all(
      [...candidates.values()].map(async (p) => {
        const peer = p.url === client.url ? client : ctx.clientFor(p);
        try {
          const info = await peer.headFile(name);
          return { peer: p.name, url: p.url, found: info !== null, size: info?.size ?? null, sha256: info?.sha256 ?? null };
        } catch (err) {
          if (err instanceof PeerError && err.code === "invalid_argument") throw err;
          return { peer: p.name, url: p.url, found: false, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    if (ctx.json) ctx.printJson({ name, peers: answers });
    else {
      ctx.print(
        table(
          answers.map((a) => [
            a.peer,
            a.url,
            a.found ? `has it: ${formatBytes(a.size ?? 0)}, sha256 ${a.sha256 ?? "-"}` : "error" in a ? `? ${a.error}` : "no",
          ]),
        ),
      );
    }
    return answers.some((a) => a.found) ? 0 : 1;
  },
};
