import type { IRequest } from "itty-router";
import { z } from "zod";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { badRequest, notFound } from "../http/errors";
import { fileStore, folderStore } from "../storage/fileStore";
import { folderPathOf } from "../storage/folders";
import { checkFileName, checkNamePrefix } from "../storage/names";
import { MAX_ZIP_ENTRIES, type ZipEntry, entriesUnder, entryOf, openerFor } from "../storage/zip";
import { zipStream } from "../storage/zipWriter";

/** At most this many names in one `POST /api/zip` (each may be a whole folder). */
export const MAX_ZIP_NAMES = 10_000;
/** The most bytes of a `POST /api/zip` body: 10,000 names of up to 1024 bytes, escaped (the guard reads up to it too). */
export const ZIP_JSON_BYTES = 16 * 1024 * 1024;
const zipBody = z.object({ names: z.array(z.string().min(1)).min(1).max(MAX_ZIP_NAMES) });

/** `GET /api/zip?prefix=docs/` — every file under the prefix, named relative to its folder. */
export async function zipPrefix(request: IRequest, env: PeerEnv): Promise<Response> {
  const prefix = checkNamePrefix(new URL(request.url).searchParams.get("prefix") ?? "");
  const base = prefix.slice(0, prefix.lastIndexOf("/") + 1);
  const entries = await entriesUnder(folderStore(env), prefix, base);
  if (entries.length === 0) throw notFound(prefix === "" ? "There are no files to zip." : `No file under "${prefix}".`);
  return zipResponse(env, entries, base);
}

/**
 * `POST /api/zip` `{"names": [...]}` — chosen files; a name ending in `/` is a whole folder.
 * Entries are named relative to the folder all the names share.
 */
export async function zipNames(request: IRequest, env: PeerEnv): Promise<Response> {
  const { names } = await readJson(request, zipBody, ZIP_JSON_BYTES);
  const chosen = [...new Set(names.map((n) => (n.endsWith("/") ? `${folderPathOf(n)}/` : checkFileName(n))))];
  const base = commonFolder(chosen);
  const files = fileStore(env);
  const folders = folderStore(env, files);
  const entries: ZipEntry[] = [];
  for (const name of chosen) {
    if (name.endsWith("/")) {
      const before = entries.length;
      await entriesUnder(folders, name, base, entries);
      if (entries.length === before) throw notFound(`No file under the folder "${name}".`);
    } else entries.push(await entryOf(files, name, base));
    if (entries.length > MAX_ZIP_ENTRIES) throw badRequest(`One zip takes at most ${MAX_ZIP_ENTRIES} files.`);
  }
  // A file chosen on its own and again inside a chosen folder is one entry.
  const unique = [...new Map(entries.map((e) => [e.key, e])).values()];
  return zipResponse(env, unique, base);
}

/** The folder (ending in `/`, or "") that every name is in. */
function commonFolder(names: string[]): string {
  let base = names[0] ?? "";
  for (const name of names) while (!name.startsWith(base)) base = base.slice(0, base.lastIndexOf("/", base.length - 2) + 1);
  return base.slice(0, base.lastIndexOf("/") + 1);
}

function zipResponse(env: PeerEnv, entries: ZipEntry[], base: string): Response {
  const { length, stream } = zipStream(entries, openerFor(fileStore(env)));
  // workerd sends the Content-Length of a FixedLengthStream, and fails it on a byte more or less.
  const fixed = new FixedLengthStream(length);
  stream.pipeTo(fixed.writable).catch(() => {});
  const folder = base.slice(0, -1).split("/").pop() || env.PEER_NAME || "files";
  const filename = `${folder}.zip`;
  const ascii = filename.replace(/[^A-Za-z0-9._ -]/g, "_");
  return new Response(fixed.readable, {
    headers: {
      "content-type": "application/zip",
      "content-length": String(length),
      "content-disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
      "cache-control": "private, no-cache",
      // The bytes travel as built: never re-compressed, so Content-Length holds.
      "content-encoding": "identity",
    },
  });
}
