import { badRequest } from "../http/errors";
import { byobReaderOf, readFull } from "./byteReads";
import type { PeerEnv } from "../env";
import type { FileMeta, FileStore } from "./files";
import { abortedUpload, changeFiles, storePart } from "./quota";

/**
 * Size of each part of a body of unknown length: R2 takes a multipart upload's parts at
 * ≥ 5 MiB and all but the last of one size, so the body is cut into 8 MiB parts as it arrives.
 */
export const STREAMED_PART_BYTES = 8 * 1024 * 1024;

export interface StreamedPutOptions {
  contentType?: string;
  partBytes?: number;
}

/**
 * Stores a body whose length is not known in advance (`Transfer-Encoding: chunked`, as macOS
 * Finder and other WebDAV clients send): at most two parts are held in memory (one being
 * stored, the next being read). A body that ends within the first part is one plain put; a longer one becomes a multipart upload of
 * fixed-size parts, hashed in order on the way (FileStore's upload digest), so its SHA-256 is
 * recorded like any other file's. Each part is reserved in the storage quota before it is
 * stored, as an upload's parts are. If anything fails the upload is aborted: nothing is left.
 */
export async function putStreamed(
  env: PeerEnv,
  files: FileStore,
  name: string,
  body: ReadableStream<Uint8Array>,
  options: StreamedPutOptions = {},
): Promise<FileMeta> {
  const partBytes = options.partBytes ?? STREAMED_PART_BYTES;
  const next = partReader(body, partBytes);

  const first = await next.fill();
  if (first.byteLength < partBytes) {
    return changeFiles(
      env,
      files,
      { names: [name], bytes: first.byteLength },
      () => files.put(name, bytesStream(first), { length: first.byteLength, contentType: options.contentType }),
      (stored) => stored.size,
    );
  }

  const uploadId = await files.createUpload(name, options.contentType);
  try {
    const parts: R2UploadedPart[] = [];
    let part = first;
    for (let n = 1; ; n++) {
      const bytes = part;
      // The next part is read from the client while this one is stored: two parts in memory at most.
      const [uploaded, following] = await Promise.all([
        storePart(env, uploadId, n, bytes.byteLength, () => files.uploadPart(name, uploadId, n, bytesStream(bytes), bytes.byteLength)),
        bytes.byteLength < partBytes ? new Uint8Array(0) : next.fill(),
      ]);
      parts.push(uploaded);
      if (following.byteLength === 0) break;
      part = following;
    }
    return await changeFiles(
      env,
      files,
      { names: [name], bytes: 0, completes: uploadId },
      () => files.completeUpload(name, uploadId, parts),
      (stored) => stored.size,
    );
  } catch (err) {
    next.cancel(err);
    await files.abortUpload(name, uploadId).catch(() => {});
    await abortedUpload(env, uploadId);
    throw err;
  }
}

/**
 * Reads a body a part at a time: `fill` answers the next `partBytes` (fewer only at the end,
 * empty past it). A byte stream is read straight into the part's buffer, one step per part
 * (`readAtLeast`), rather than one JavaScript step per 4 KiB chunk.
 */
function partReader(
  body: ReadableStream<Uint8Array>,
  partBytes: number,
): { fill: () => Promise<Uint8Array>; cancel: (reason: unknown) => void } {
  let ended = false;
  const guarded = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch {
      // The client went away mid-body: its doing, not a 500; nothing is kept.
      throw badRequest("The request body broke off before its end; nothing was stored.");
    }
  };
  const byob = byobReaderOf(body);
  if (byob) {
    const reader = byob;
    return {
      async fill() {
        if (ended) return new Uint8Array(0);
        const { bytes, done } = await guarded(() => readFull(reader, partBytes));
        if (done) ended = true;
        return bytes;
      },
      cancel: (reason) => void reader.cancel(reason).catch(() => {}),
    };
  }
  const reader = body.getReader();
  let carry: Uint8Array | null = null;
  return {
    async fill() {
      const chunks: Uint8Array[] = [];
      let filled = 0;
      while (filled < partBytes) {
        let chunk = carry;
        carry = null;
        if (!chunk) {
          if (ended) break;
          const { done, value } = await guarded(() => reader.read());
          if (done) {
            ended = true;
            break;
          }
          chunk = value;
        }
        const take = Math.min(chunk.byteLength, partBytes - filled);
        chunks.push(chunk.subarray(0, take));
        filled += take;
        if (take < chunk.byteLength) carry = chunk.subarray(take);
      }
      return concat(chunks, filled);
    },
    cancel: (reason) => void reader.cancel(reason).catch(() => {}),
  };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A stream of exactly these bytes. */
function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Response(bytes).body as ReadableStream<Uint8Array>;
}
