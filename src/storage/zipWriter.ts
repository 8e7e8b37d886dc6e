import { crc32 } from "node:zlib";

/**
 * A streaming zip writer, STORE only (APPNOTE 6.3.10). Our own rather than client-zip: client-zip
 * computes each entry's CRC-32 in JavaScript a byte at a time ("by far the largest performance
 * bottleneck", its README) and cannot take one computed elsewhere; here the runtime's native
 * `crc32` of `node:zlib` runs over each chunk as it passes, and the file's bytes pass untouched.
 *
 * Layout (client-zip's, which readers already accepted from us): per entry a local header with
 * the data-descriptor flag (CRC and sizes zero, as bit 3 asks), the UTF-8 name, the bytes, a data
 * descriptor (64-bit sizes for a file of 4 GiB or more); then the central directory (a zip64
 * extra field carries the size and/or offset that do not fit 32 bits); zip64 end records when
 * the count, a size or an offset does not fit the classic end record; the end record.
 */

/** One file of an archive: its name inside it (UTF-8), its exact size and its date. */
export interface ZipFile {
  name: string;
  size: number;
  modified: Date;
}

/**
 * A file's bytes: a stream or an iterable of chunks read to its end, or the bytes themselves.
 * A source that must be let go when the zip stops (an R2 body) comes as a stream: an iterable
 * opened ahead and never started cannot be told (a generator's `return()` then runs no `finally`).
 */
export type ZipInput = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array;

const U32 = 0xffffffff;
const U16 = 0xffff;
/** Files opened ahead of the one being written, so small files do not wait on storage one by one. */
const READ_AHEAD = 4;
/** Headers, names and small files are joined into chunks of this size; larger chunks pass as they are. */
const JOIN = 64 * 1024;
/** Bytes the archive stream reads ahead of the response, so storage reads overlap with sending. */
const BUFFERED = 2 * 1024 * 1024;
/** "Version needed" 4.5 (zip64); "made by" 4.5 on Unix, so readers take the mode in the external attributes. */
const VERSION = 45;
const MADE_BY = 0x0300 | VERSION;
/** Bit 3 (CRC and sizes in the data descriptor) and bit 11 (the name is UTF-8). */
const FLAGS = 0x0808;
/** A regular file, rw-rw-r--. */
const EXTERNAL_ATTRIBUTES = (0o100664 << 16) >>> 0;
const encoder = new TextEncoder();

interface Placed {
  name: Uint8Array;
  /** Where its local header starts. */
  offset: number;
}

/** Each file's encoded name and the offset of its local header, and where the central directory starts. */
function place(files: ZipFile[]): { placed: Placed[]; centralOffset: number; centralSize: number } {
  const placed: Placed[] = [];
  let offset = 0;
  let centralSize = 0;
  for (const f of files) {
    const name = encoder.encode(f.name);
    placed.push({ name, offset });
    centralSize += 46 + name.byteLength + zip64ExtraLength(f.size, offset);
    offset += 30 + name.byteLength + f.size + descriptorLength(f.size);
  }
  return { placed, centralOffset: offset, centralSize };
}

const descriptorLength = (size: number) => (size >= U32 ? 24 : 16);

/** The central directory's zip64 extra field: only the values that do not fit their 32-bit field. */
function zip64ExtraLength(size: number, offset: number): number {
  const fields = (size >= U32 ? 16 : 0) + (offset >= U32 ? 8 : 0);
  return fields === 0 ? 0 : 4 + fields;
}

const needsZip64End = (count: number, centralOffset: number, centralSize: number) =>
  count >= U16 || centralOffset >= U32 || centralSize >= U32;

/** The exact length in bytes of the archive `zipStream` writes for `files`. */
export function zipLength(files: ZipFile[]): number {
  const { centralOffset, centralSize } = place(files);
  return centralOffset + centralSize + (needsZip64End(files.length, centralOffset, centralSize) ? 76 : 0) + 22;
}

/**
 * The zip of `files`, streamed: each file is opened (`open`, a few ahead) and read as it is
 * written, its CRC-32 computed natively on the way. `length` is the archive's exact size; a file
 * that yields more or fewer bytes than its `size` fails the stream rather than write a wrong archive.
 */
export function zipStream<F extends ZipFile>(
  files: F[],
  open: (file: F) => Promise<ZipInput>,
): { length: number; stream: ReadableStream<Uint8Array> } {
  const { placed, centralOffset, centralSize } = place(files);
  const zip64End = needsZip64End(files.length, centralOffset, centralSize);
  const length = centralOffset + centralSize + (zip64End ? 76 : 0) + 22;

  const opened: Array<Promise<ZipInput> | undefined> = [];
  const openAt = (i: number) => {
    const file = files[i];
    if (file && opened[i] === undefined) {
      const input = open(file);
      input.catch(() => {});
      opened[i] = input;
    }
  };
  /** Cancels the files opened ahead and never read (after a failure or a cancelled download). */
  const dropOpened = async (reason: unknown) => {
    const left = opened.filter((input) => input !== undefined);
    opened.length = 0;
    await Promise.all(left.map((input) => input.then((s) => cancelInput(s, reason)).catch(() => {})));
  };

  async function* pieces(): AsyncGenerator<Uint8Array> {
    const central: Uint8Array[] = [];
    for (let i = 0; i < files.length; i++) {
      for (let j = i; j < Math.min(files.length, i + READ_AHEAD); j++) openAt(j);
      const file = files[i] as F;
      const { name, offset } = placed[i] as Placed;
      const time = dosTime(file.modified);
      yield localHeader(name, time);
      const input = await (opened[i] as Promise<ZipInput>);
      opened[i] = undefined;
      let crc = 0;
      let seen = 0;
      const chunks = input instanceof Uint8Array ? [input] : input instanceof ReadableStream ? chunksOf(input) : input;
      for await (const value of chunks) {
        crc = crc32(value, crc);
        seen += value.byteLength;
        if (seen > file.size) throw sizeError(file, seen);
        yield value;
      }
      if (seen !== file.size) throw sizeError(file, seen);
      crc >>>= 0;
      yield descriptor(crc, file.size);
      central.push(centralHeader(name, time, crc, file.size, offset));
    }
    yield* central;
    if (zip64End) yield zip64EndRecords(files.length, centralOffset, centralSize);
    yield endRecord(files.length, centralOffset, centralSize);
  }

  const it = pieces();
  let joined = new Uint8Array(JOIN);
  let used = 0;
  const takeJoined = () => {
    const out = joined.subarray(0, used);
    joined = new Uint8Array(JOIN);
    used = 0;
    return out;
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const { done, value } = await it.next();
            if (done) {
              if (used > 0) controller.enqueue(takeJoined());
              controller.close();
              return;
            }
            if (value.byteLength >= JOIN) {
              if (used > 0) controller.enqueue(takeJoined());
              controller.enqueue(value);
              return;
            }
            if (used + value.byteLength > JOIN) controller.enqueue(takeJoined());
            joined.set(value, used);
            used += value.byteLength;
            if (used === JOIN) {
              controller.enqueue(takeJoined());
              return;
            }
          }
        } catch (error) {
          await dropOpened(error);
          throw error;
        }
      },
      async cancel(reason) {
        await Promise.all([dropOpened(reason), it.return(undefined)]);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: BUFFERED }),
  );
  return { length, stream };
}

/** A stream's chunks; a stream left before its end is cancelled. */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const read = await reader.read();
      if (read.done) break;
      yield read.value;
    }
    done = true;
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Lets go of a file opened and not read. */
async function cancelInput(input: ZipInput, reason: unknown): Promise<void> {
  if (input instanceof ReadableStream) await input.cancel(reason);
  else if (!(input instanceof Uint8Array)) await input[Symbol.asyncIterator]().return?.(undefined);
}

function sizeError(file: ZipFile, seen: number): Error {
  return new Error(`zip: "${file.name}" gave ${seen} bytes or more, not the ${file.size} listed`);
}

function localHeader(name: Uint8Array, time: number): Uint8Array {
  const bytes = new Uint8Array(30 + name.byteLength);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, FLAGS, true);
  // 8: method 0 (stored); 14–25: CRC and sizes 0, in the data descriptor instead.
  v.setUint32(10, time, true);
  v.setUint16(26, name.byteLength, true);
  bytes.set(name, 30);
  return bytes;
}

function descriptor(crc: number, size: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(descriptorLength(size)));
  v.setUint32(0, 0x08074b50, true);
  v.setUint32(4, crc, true);
  if (size >= U32) {
    v.setBigUint64(8, BigInt(size), true);
    v.setBigUint64(16, BigInt(size), true);
  } else {
    v.setUint32(8, size, true);
    v.setUint32(12, size, true);
  }
  return new Uint8Array(v.buffer);
}

function centralHeader(name: Uint8Array, time: number, crc: number, size: number, offset: number): Uint8Array {
  const extra = zip64ExtraLength(size, offset);
  const bytes = new Uint8Array(46 + name.byteLength + extra);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x02014b50, true);
  v.setUint16(4, MADE_BY, true);
  v.setUint16(6, VERSION, true);
  v.setUint16(8, FLAGS, true);
  v.setUint32(12, time, true);
  v.setUint32(16, crc, true);
  v.setUint32(20, Math.min(size, U32), true);
  v.setUint32(24, Math.min(size, U32), true);
  v.setUint16(28, name.byteLength, true);
  v.setUint16(30, extra, true);
  v.setUint32(38, EXTERNAL_ATTRIBUTES, true);
  v.setUint32(42, Math.min(offset, U32), true);
  bytes.set(name, 46);
  if (extra > 0) {
    let at = 46 + name.byteLength;
    v.setUint16(at, 0x0001, true);
    v.setUint16(at + 2, extra - 4, true);
    at += 4;
    // APPNOTE 4.5.3: original size, then compressed size, then the offset — each only when its field is 0xFFFFFFFF.
    if (size >= U32) {
      v.setBigUint64(at, BigInt(size), true);
      v.setBigUint64(at + 8, BigInt(size), true);
      at += 16;
    }
    if (offset >= U32) v.setBigUint64(at, BigInt(offset), true);
  }
  return bytes;
}

/** The zip64 end of central directory record (56 bytes) and its locator (20). */
function zip64EndRecords(count: number, centralOffset: number, centralSize: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(76));
  v.setUint32(0, 0x06064b50, true);
  v.setBigUint64(4, 44n, true);
  v.setUint16(12, MADE_BY, true);
  v.setUint16(14, VERSION, true);
  v.setBigUint64(24, BigInt(count), true);
  v.setBigUint64(32, BigInt(count), true);
  v.setBigUint64(40, BigInt(centralSize), true);
  v.setBigUint64(48, BigInt(centralOffset), true);
  v.setUint32(56, 0x07064b50, true);
  v.setBigUint64(64, BigInt(centralOffset + centralSize), true);
  v.setUint32(72, 1, true);
  return new Uint8Array(v.buffer);
}

/** The classic end record; a value that does not fit says "see the zip64 record" (all ones). */
function endRecord(count: number, centralOffset: number, centralSize: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(22));
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, Math.min(count, U16), true);
  v.setUint16(10, Math.min(count, U16), true);
  v.setUint32(12, Math.min(centralSize, U32), true);
  v.setUint32(16, Math.min(centralOffset, U32), true);
  return new Uint8Array(v.buffer);
}

/** MS-DOS time (low 16 bits) and date (high 16), in UTC, held to the range the format has (1980–2107). */
function dosTime(date: Date): number {
  const t = Number.isNaN(date.getTime()) ? 0 : Math.min(Math.max(date.getTime(), Date.UTC(1980, 0, 1)), Date.UTC(2107, 11, 31, 23, 59, 58));
  const d = new Date(t);
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const day = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return ((day << 16) | time) >>> 0;
}
