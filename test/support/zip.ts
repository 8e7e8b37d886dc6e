/**
 * Reads a zip as it streams past, keeping only its headers (never a file's bytes unless
 * asked): the local headers, data descriptors, central directory and end records, each
 * checked against the others. Enough to verify an archive of any size, zip64 included,
 * without holding or storing it. Written to APPNOTE 6.3.10.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes`, continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

export interface ReadEntry {
  name: string;
  size: number;
  crc: number;
  offset: number;
  utf8: boolean;
  /** The file's bytes, when `keep(name)` asked for them. */
  data?: Uint8Array;
  /** Whether the central directory gave its size or offset in a zip64 extra field. */
  zip64: boolean;
}

export interface ReadZip {
  entries: ReadEntry[];
  total: number;
  /** The zip64 end record's entry count, when there is one. */
  zip64Count: number | null;
  /** The (classic) end record's entry count field. */
  endCount: number;
}

class Bytes {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  position = 0;
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      const { done, value } = await this.reader.read();
      if (done) return false;
      this.chunks.push(value);
      this.buffered += value.byteLength;
    }
    return true;
  }

  /** Exactly `n` bytes, or null at the end of the stream. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.fill(n))) {
      if (this.buffered === 0 && n > 0) return null;
      throw new Error(`zip ends after ${this.position + this.buffered} bytes, inside a record`);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const first = this.chunks[0] as Uint8Array;
      const take = Math.min(first.byteLength, n - at);
      out.set(first.subarray(0, take), at);
      at += take;
      if (take === first.byteLength) this.chunks.shift();
      else this.chunks[0] = first.subarray(take);
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** Passes `n` bytes by, feeding each piece to `see`. */
  async skip(n: number, see: (piece: Uint8Array) => void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.chunks.length === 0 && !(await this.fill(1))) throw new Error("zip ends inside a file's data");
      const first = this.chunks[0] as Uint8Array;
      const take = Math.min(first.byteLength, left);
      see(first.subarray(0, take));
      if (take === first.byteLength) this.chunks.shift();
      else this.chunks[0] = first.subarray(take);
      this.buffered -= take;
      this.position += take;
      left -= take;
    }
  }
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads `stream` to its end and checks it is one well-formed zip: every local header has a
 * data descriptor whose CRC (when `crcOf` says to check it) and sizes match the central
 * directory, offsets match where the headers really were, and the end records agree.
 */
export async function readZip(
  stream: ReadableStream<Uint8Array>,
  options: {
    /** Each entry's size as stored: a streamed entry says its size only after its data. */
    sizes: Map<string, number>;
    keep?: (name: string) => boolean;
    checkCrc?: (name: string, size: number) => boolean;
  },
): Promise<ReadZip> {
  const bytes = new Bytes(stream.getReader());
  const local: Array<{ name: string; offset: number; crc: number; size: number; data?: Uint8Array }> = [];
  let signature: number;
  for (;;) {
    const offset = bytes.position;
    const head = await bytes.read(4);
    if (!head) throw new Error("empty zip");
    signature = view(head).getUint32(0, true);
    if (signature !== 0x04034b50) break;
    const fixed = view((await bytes.read(26)) as Uint8Array);
    const flags = fixed.getUint16(2, true);
    if (!(flags & 0x08)) throw new Error("expected a data descriptor (streamed entry)");
    const nameLength = fixed.getUint16(22, true);
    const extraLength = fixed.getUint16(24, true);
    const name = decoder.decode((await bytes.read(nameLength)) as Uint8Array);
    await bytes.read(extraLength);
    local.push({ name, offset, crc: 0, size: -1 });
    const entry = local[local.length - 1] as (typeof local)[number];
    // The size is only in the descriptor after the data: the caller says how long the data is.
    const size = sizeOf(name);
    let crc = 0;
    const check = options.checkCrc?.(name, size) ?? true;
    const parts: Uint8Array[] = [];
    const keep = options.keep?.(name) ?? false;
    await bytes.skip(size, (piece) => {
      if (check) crc = crc32(piece, crc);
      if (keep) parts.push(piece.slice());
    });
    if (keep) {
      const data = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.byteLength;
      }
      entry.data = data;
    }
    const large = size >= 0xffffffff;
    const descriptor = view((await bytes.read(large ? 24 : 16)) as Uint8Array);
    if (descriptor.getUint32(0, true) !== 0x08074b50) throw new Error(`no data descriptor after "${name}"`);
    entry.crc = descriptor.getUint32(4, true);
    const compressed = large ? Number(descriptor.getBigUint64(8, true)) : descriptor.getUint32(8, true);
    const plain = large ? Number(descriptor.getBigUint64(16, true)) : descriptor.getUint32(12, true);
    if (compressed !== size || plain !== size) throw new Error(`"${name}": descriptor says ${plain} bytes, not ${size}`);
    if (check && entry.crc !== crc) throw new Error(`"${name}": CRC ${entry.crc} in the descriptor, ${crc} computed`);
    entry.size = size;
  }

  // Central directory.
  const centralStart = bytes.position - 4;
  const entries: ReadEntry[] = [];
  while (signature === 0x02014b50) {
    const fixed = view((await bytes.read(42)) as Uint8Array);
    const flags = fixed.getUint16(4, true);
    const crc = fixed.getUint32(12, true);
    let size = fixed.getUint32(20, true);
    const nameLength = fixed.getUint16(24, true);
    const extraLength = fixed.getUint16(26, true);
    const commentLength = fixed.getUint16(28, true);
    let offset = fixed.getUint32(38, true);
    const name = decoder.decode((await bytes.read(nameLength)) as Uint8Array);
    const extra = view((await bytes.read(extraLength)) as Uint8Array);
    await bytes.read(commentLength);
    let zip64 = false;
    for (let at = 0; at + 4 <= extra.byteLength; ) {
      const id = extra.getUint16(at, true);
      const length = extra.getUint16(at + 2, true);
      if (id === 0x0001) {
        zip64 = true;
        let field = at + 4;
        if (size === 0xffffffff) {
          size = Number(extra.getBigUint64(field + 8, true));
          field += 16;
        }
        if (offset === 0xffffffff) offset = Number(extra.getBigUint64(field, true));
      }
      at += 4 + length;
    }
    entries.push({ name, size, crc, offset, utf8: (flags & 0x0800) !== 0, zip64 });
    const next = (await bytes.read(4)) as Uint8Array;
    signature = view(next).getUint32(0, true);
  }
  const centralSize = bytes.position - 4 - centralStart;

  let zip64Count: number | null = null;
  if (signature === 0x06064b50) {
    const record = view((await bytes.read(52)) as Uint8Array);
    zip64Count = Number(record.getBigUint64(28, true));
    if (Number(record.getBigUint64(20, true)) !== zip64Count) throw new Error("zip64 end: entries on disk ≠ total");
    if (Number(record.getBigUint64(36, true)) !== centralSize) throw new Error("zip64 end: central directory size is wrong");
    if (Number(record.getBigUint64(44, true)) !== centralStart) throw new Error("zip64 end: central directory offset is wrong");
    const locator = view((await bytes.read(20)) as Uint8Array);
    if (locator.getUint32(0, true) !== 0x07064b50) throw new Error("no zip64 end locator");
    if (Number(locator.getBigUint64(8, true)) !== centralStart + centralSize) throw new Error("zip64 locator points elsewhere");
    signature = view((await bytes.read(4)) as Uint8Array).getUint32(0, true);
  }
  if (signature !== 0x06054b50) throw new Error(`expected the end record, found signature ${signature.toString(16)}`);
  const end = view((await bytes.read(18)) as Uint8Array);
  const endCount = end.getUint16(6, true);
  const classicSize = end.getUint32(8, true);
  const classicOffset = end.getUint32(12, true);
  if (zip64Count === null) {
    if (endCount !== entries.length) throw new Error(`end record counts ${endCount} entries, the directory has ${entries.length}`);
    if (classicSize !== centralSize || classicOffset !== centralStart) throw new Error("end record: directory size or offset is wrong");
  } else if (zip64Count !== entries.length) throw new Error(`zip64 end counts ${zip64Count}, the directory has ${entries.length}`);
  if ((await bytes.read(1)) !== null) throw new Error("bytes after the end record");

  if (local.length !== entries.length) throw new Error("local headers and directory entries differ in number");
  entries.forEach((e, i) => {
    const l = local[i] as (typeof local)[number];
    if (l.name !== e.name || l.offset !== e.offset || l.crc !== e.crc || l.size !== e.size)
      throw new Error(`"${e.name}": the directory does not match its local header`);
    if (l.data) e.data = l.data;
  });
  return { entries, total: bytes.position, zip64Count, endCount };

  function sizeOf(name: string): number {
    const size = options.sizes.get(name);
    if (size === undefined) throw new Error(`no size known for "${name}"`);
    return size;
  }
}
