import { HttpError, notFound } from "../http/errors";
import { type FileStore, isFolderMarker } from "./files";
import { byobReaderOf, readFull } from "./byteReads";
import type { FolderStore } from "./folders";
import type { ZipInput } from "./zipWriter";

/** One file of a zip: its name inside the archive and the stored object it is read from. */
export interface ZipEntry {
  /** The entry's name (UTF-8, relative to the folder zipped). */
  name: string;
  key: string;
  size: number;
  etag: string;
  modified: Date;
}

/** Most entries one zip takes: their names are held in memory while it streams. */
export const MAX_ZIP_ENTRIES = 200_000;
/** Most bytes of entry names one zip holds in memory. */
const MAX_NAME_BYTES = 32 * 1024 * 1024;

/**
 * Collects the files under `prefix` (markers left out), named relative to `base`, in name order.
 * 413 past MAX_ZIP_ENTRIES or the name budget.
 */
export async function entriesUnder(folders: FolderStore, prefix: string, base: string, into: ZipEntry[] = []): Promise<ZipEntry[]> {
  let nameBytes = 0;
  for await (const objects of folders.objectsUnder(prefix)) {
    for (const o of objects) {
      if (isFolderMarker(o.key)) continue;
      const name = o.key.slice(base.length);
      nameBytes += name.length;
      if (into.length >= MAX_ZIP_ENTRIES || nameBytes > MAX_NAME_BYTES) {
        throw new HttpError("payload_too_large", `One zip takes at most ${MAX_ZIP_ENTRIES} files; zip a smaller folder.`);
      }
      into.push({ name, key: o.key, size: o.size, etag: o.etag, modified: o.uploaded });
    }
  }
  return into;
}

/** The file `name` as an entry named relative to `base`; 404 when absent. */
export async function entryOf(files: FileStore, name: string, base: string): Promise<ZipEntry> {
  const found = await files.head(name);
  if (!found) throw notFound(`No file "${name}".`);
  const o = found.object;
  return { name: name.slice(base.length), key: name, size: o.size, etag: o.etag, modified: o.uploaded };
}

/** Opens a file of the zip from R2, pinned to the listed version, read in large chunks. */
export function openerFor(files: FileStore): (entry: ZipEntry) => Promise<ZipInput> {
  return async (entry) => {
    const read = await files.get(entry.key, undefined, entry.etag);
    if (!read) throw notFound(`"${entry.key}" was deleted while the zip was being written.`);
    return inLargeChunks(read.object.body, entry.size);
  };
}

/** What one read of a file's body takes: few, large chunks keep the per-chunk JavaScript small. */
const STEP = 1024 * 1024;

/**
 * An R2 body arrives in 4 KiB chunks; the writer's work per chunk (a CRC call, a step of its
 * stream) is cheaper on fewer, larger ones, so the body is read 1 MiB at a time (`readFull`, as
 * the upload hashing does), no more than what is left of the file's `size`. A stream rather than
 * a generator: the zip cancels a file it opened ahead and never read, and a generator not yet
 * started runs no `finally` on `return()`, which left its R2 body open.
 */
function inLargeChunks(body: ReadableStream<Uint8Array>, size: number): ReadableStream<Uint8Array> {
  const reader = byobReaderOf(body);
  if (!reader) return body;
  let left = size;
  // Past the listed size there is nothing (the version is pinned); a short body is the writer's error.
  const letGo = async (reason?: unknown) => {
    await reader.cancel(reason).catch(() => {});
    reader.releaseLock();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { bytes, done } = await readFull(reader, Math.min(STEP, left));
          left -= bytes.byteLength;
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          if (done || left <= 0) {
            await letGo();
            controller.close();
          }
        } catch (error) {
          await letGo(error);
          throw error;
        }
      },
      cancel: letGo,
    },
    // Nothing is read before the writer asks: a file opened ahead holds no buffer.
    { highWaterMark: 0 },
  );
}
