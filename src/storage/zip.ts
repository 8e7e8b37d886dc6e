import { makeZip, predictLength } from "client-zip";
import { HttpError, notFound } from "../http/errors";
import { type FileStore, isFolderMarker } from "./files";
import type { FolderStore } from "./folders";

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
/** Files opened ahead of the one being written, so small files do not wait on R2 one by one. */
const READ_AHEAD = 4;
const U32 = 0xffffffff;
const encoder = new TextEncoder();

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

/**
 * Offset of the central directory in client-zip's layout: per entry a 30-byte local header,
 * the name, the data and a 16-byte data descriptor (24 for a file of 4 GiB or more).
 */
function centralDirectoryOffset(entries: ZipEntry[]): number {
  let offset = 0;
  for (const e of entries) offset += 46 + encoder.encode(e.name).byteLength + e.size + (e.size >= U32 ? 8 : 0);
  return offset;
}

/**
 * client-zip writes the zip64 end records when a file or the offsets pass 4 GiB, but not when
 * only the number of entries passes 65,535 (its end record then says 65,535). Then we add the
 * two zip64 records it would have written (76 bytes) before its end record, and mark that
 * record's counts as 0xFFFF, as APPNOTE 4.4.1.4 asks.
 */
function needsCountZip64(entries: ZipEntry[]): boolean {
  if (entries.length <= 0xffff) return false;
  const anyLarge = entries.some((e) => e.size >= U32);
  return !anyLarge && centralDirectoryOffset(entries) < U32;
}

/** Holds the stream's last 22 bytes (the end record) back and puts the zip64 end records before them. */
function addZip64EndRecords(count: number): TransformStream<Uint8Array, Uint8Array> {
  let tail = new Uint8Array(0);
  return new TransformStream({
    transform(chunk, controller) {
      const joined = new Uint8Array(tail.byteLength + chunk.byteLength);
      joined.set(tail);
      joined.set(chunk, tail.byteLength);
      const keep = Math.min(22, joined.byteLength);
      if (joined.byteLength > keep) controller.enqueue(joined.subarray(0, joined.byteLength - keep));
      tail = joined.slice(joined.byteLength - keep);
    },
    flush(controller) {
      const end = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
      if (tail.byteLength !== 22 || end.getUint32(0, true) !== 0x06054b50) throw new Error("zip: no end of central directory record");
      const size = end.getUint32(12, true);
      const offset = end.getUint32(16, true);
      const records = new DataView(new ArrayBuffer(76));
      // Zip64 end of central directory record, as client-zip writes it.
      records.setUint32(0, 0x06064b50, true);
      records.setBigUint64(4, 44n, true);
      records.setUint32(12, 755182848); // made by and needed: version 4.5 (client-zip's bytes)
      records.setBigUint64(24, BigInt(count), true);
      records.setBigUint64(32, BigInt(count), true);
      records.setBigUint64(40, BigInt(size), true);
      records.setBigUint64(48, BigInt(offset), true);
      // Zip64 end of central directory locator: where that record starts; one disk.
      records.setUint32(56, 0x07064b50, true);
      records.setBigUint64(64, BigInt(offset + size), true);
      records.setUint32(72, 1, true);
      controller.enqueue(new Uint8Array(records.buffer));
      end.setUint16(8, 0xffff, true);
      end.setUint16(10, 0xffff, true);
      controller.enqueue(tail);
    },
  });
}

/**
 * A zip of `entries` (stored, not compressed: UTF-8 names, zip64 past 4 GiB or 65,535
 * entries) by client-zip, streamed: each file is read as it is written, a few ahead, and
 * small pieces (headers, names) are joined into chunks of 64 KiB or more. `length` is the
 * archive's exact size (client-zip's `predictLength`); the caller streams it through a
 * FixedLengthStream of that size, so a byte more or less fails rather than sends a wrong archive.
 */
export function zipArchive(
  entries: ZipEntry[],
  open: (entry: ZipEntry) => Promise<ReadableStream<Uint8Array> | Uint8Array>,
): { length: number; stream: ReadableStream<Uint8Array> } {
  const patch = needsCountZip64(entries);
  const length = Number(predictLength(entries.map((e) => ({ name: e.name, size: e.size })))) + (patch ? 76 : 0);
  const opened: Promise<ReadableStream<Uint8Array> | Uint8Array>[] = [];
  const openAt = (i: number) => {
    const entry = entries[i];
    if (entry && opened[i] === undefined) {
      opened[i] = open(entry);
      opened[i].catch(() => {});
    }
  };
  async function* inputs() {
    for (let i = 0; i < entries.length; i++) {
      for (let j = i; j < Math.min(entries.length, i + READ_AHEAD); j++) openAt(j);
      const entry = entries[i] as ZipEntry;
      const input = await (opened[i] as Promise<ReadableStream<Uint8Array> | Uint8Array>);
      delete opened[i];
      yield { name: entry.name, lastModified: entry.modified, size: entry.size, input };
    }
  }
  let zip = makeZip(inputs(), { buffersAreUTF8: true });
  if (patch) zip = zip.pipeThrough(addZip64EndRecords(entries.length));
  return { length, stream: zip.pipeThrough(coalesce()) };
}

/** Joins pieces smaller than `min` bytes (client-zip writes each header and name apart); big chunks pass as they are. */
function coalesce(min = 64 * 1024): TransformStream<Uint8Array, Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (size === 0) return;
    const joined = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.byteLength;
    }
    controller.enqueue(joined);
    parts = [];
    size = 0;
  };
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.byteLength >= min) {
        flush(controller);
        controller.enqueue(chunk);
        return;
      }
      parts.push(chunk.slice());
      size += chunk.byteLength;
      if (size >= min) flush(controller);
    },
    flush,
  });
}

/** Opens a file of the zip from R2, pinned to the listed version, read in large chunks. */
export function openerFor(files: FileStore): (entry: ZipEntry) => Promise<ReadableStream<Uint8Array>> {
  return async (entry) => {
    const read = await files.get(entry.key, undefined, entry.etag);
    if (!read) throw notFound(`"${entry.key}" was deleted while the zip was being written.`);
    return inLargeChunks(read.object.body);
  };
}

/** What one step of a file's bytes hands client-zip (its work per chunk is JavaScript). */
const STEP = 256 * 1024;

/**
 * An R2 body arrives in 4 KiB chunks; client-zip runs its CRC and an async step per chunk, so
 * the body is read 256 KiB at a time (a BYOB `readAtLeast`, as the upload hashing does).
 */
function inLargeChunks(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    return body;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.readAtLeast(STEP, new Uint8Array(STEP));
      if (value?.byteLength) controller.enqueue(value);
      if (done) controller.close();
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
