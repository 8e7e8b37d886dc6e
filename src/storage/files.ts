import { HttpError, badRequest, notFound } from "../http/errors";
import { toHex } from "../http/crypto";
import { type Hash, copyThrough, hashStream, newSha256 } from "./hashing";
import { fileShaKey } from "./keys";
import { type Turn, dropChain, joinChain, readBack, startChain, takeChain } from "./uploadDigests";

/** A stored file as listings and upload answers show it. */
export interface FileMeta {
  name: string;
  size: number;
  etag: string;
  sha256: string | null;
  contentType: string;
  uploaded: string;
}

export interface FilePage {
  files: FileMeta[];
  cursor: string | null;
}

export interface PutOptions {
  /** Exact byte count of `body` (R2 needs a known length). */
  length: number;
  /** Hex SHA-256 the client vouches for: R2 verifies it and refuses a mismatch. */
  sha256?: string;
  /**
   * Hex MD5 of the body, when the bytes come from another peer's single-part file (its R2
   * etag). R2 computes an MD5 of every put anyway, so verifying it costs nothing; `sha256` is
   * then recorded as the source stored it rather than computed a second time.
   */
  md5?: string;
  contentType?: string;
  /** Refuse (412) if a file of that name already exists. */
  onlyIfAbsent?: boolean;
}

/** Read range of a GET. */
export interface ByteRange {
  offset: number;
  length: number;
}

const DEFAULT_TYPE = "application/octet-stream";
/** R2 reports a SHA-256 mismatch with this error code (10037 on the platform, "BadDigest" locally). */
const DIGEST_ERROR = /sha-?256|digest|checksum|10037/i;

/** SHA-256 sidecar for files that arrived without one, guarded by the etag it was computed for. */
interface ShaSidecar {
  etag: string;
  sha256: string;
}

/**
 * Files on R2. The SHA-256 of a file travels with it: in `customMetadata.sha256` (and R2's
 * own checksum) when the client sent it, else in a KV sidecar written once the streamed
 * digest is known — R2 metadata cannot change after the put.
 */
export class FileStore {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly kv: KVNamespace,
  ) {}

  async list(prefix: string, cursor: string | undefined, limit: number): Promise<FilePage> {
    const page = await this.bucket.list({
      prefix,
      cursor,
      limit,
      include: ["httpMetadata", "customMetadata"],
    });
    const missing = page.objects.filter((o) => !knownSha(o)).map((o) => fileShaKey(o.key));
    const sidecars = missing.length ? await this.sidecars(missing) : new Map<string, ShaSidecar>();
    return {
      files: page.objects.map((o) => toMeta(o, sidecars.get(fileShaKey(o.key)))),
      cursor: page.truncated ? page.cursor : null,
    };
  }

  /** Metadata without the body, or null. */
  async head(name: string): Promise<{ object: R2Object; sha256: string | null } | null> {
    const object = await this.bucket.head(name);
    if (!object) return null;
    return { object, sha256: await this.sha256Of(object) };
  }

  /**
   * The body (whole or a range), or null when absent. `etag` pins the version read by an
   * earlier head: if the file changed in between, the answer is a 412.
   */
  async get(name: string, range?: ByteRange, etag?: string): Promise<{ object: R2ObjectBody; sha256: string | null } | null> {
    const object = await this.bucket.get(name, {
      ...(range && { range }),
      ...(etag && { onlyIf: { etagMatches: etag } }),
    });
    if (!object) return null;
    if (!("body" in object)) {
      throw new HttpError("precondition_failed", "The file changed while it was being read; try again.");
    }
    return { object, sha256: await this.sha256Of(object) };
  }

  /**
   * Streams `body` into R2. With a client SHA-256, R2 verifies it (the fast path); without,
   * the stream is teed into a digest beside the put and the result kept in the sidecar.
   * A failed or short stream stores nothing: R2 writes an object whole or not at all.
   */
  async put(name: string, body: ReadableStream<Uint8Array>, opts: PutOptions): Promise<FileMeta> {
    const httpMetadata = { contentType: opts.contentType || DEFAULT_TYPE };
    const onlyIf = opts.onlyIfAbsent ? new Headers({ "if-none-match": "*" }) : undefined;

    if (opts.sha256) {
      const sha256 = opts.sha256;
      const check = opts.md5 ? { md5: opts.md5 } : { sha256 };
      const object = await this.guardDigest(
        () => this.bucket.put(name, body, { httpMetadata, customMetadata: { sha256 }, ...check, onlyIf }),
        opts.md5 ? "its MD5" : "X-Content-SHA256",
      );
      if (!object) throw exists(name);
      // No KV write on this, the fast path: an older sidecar is never read for an object that
      // carries its own SHA-256, and it goes with the file's delete.
      return toMeta(object, undefined, sha256);
    }

    const { object, sha256 } = await this.putHashing(name, body, opts.length, { httpMetadata, onlyIf });
    if (!object) throw exists(name);
    await this.kv.put(fileShaKey(name), JSON.stringify({ etag: object.etag, sha256 } satisfies ShaSidecar));
    return toMeta(object, undefined, sha256);
  }

  /** Bytes of the file `name`, 0 when there is none. */
  async sizeOf(name: string): Promise<number> {
    return (await this.bucket.head(name))?.size ?? 0;
  }

  /** Deletes a file; false when there was none. */
  async delete(name: string): Promise<boolean> {
    const object = await this.bucket.head(name);
    if (!object) return false;
    await this.bucket.delete(name);
    await this.kv.delete(fileShaKey(name));
    return true;
  }

  /** Count and bytes of every file (pages through the whole bucket). */
  async usage(): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ cursor, limit: 1000 });
      for (const o of page.objects) {
        count++;
        bytes += o.size;
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return { count, bytes };
  }

  // --- multipart -------------------------------------------------------------------------

  async createUpload(name: string, contentType?: string): Promise<string> {
    const upload = await this.bucket.createMultipartUpload(name, {
      httpMetadata: { contentType: contentType || DEFAULT_TYPE },
    });
    startChain(name, upload.uploadId);
    return upload.uploadId;
  }

  /**
   * Stores part `part` (`body` of exactly `length` bytes). When the part can join its upload's
   * digest in order (`uploadDigests.ts`) it is hashed on the way to R2.
   */
  async uploadPart(name: string, uploadId: string, part: number, body: ReadableStream, length: number): Promise<R2UploadedPart> {
    const upload = this.bucket.resumeMultipartUpload(name, uploadId);
    const turn = joinChain(name, uploadId, part);
    if (!turn) return this.guardUpload(() => upload.uploadPart(part, body));
    try {
      const uploaded = await this.storeHashing(body, length, turn, (stream) => this.guardUpload(() => upload.uploadPart(part, stream)));
      turn.stored(uploaded.etag);
      return uploaded;
    } catch (err) {
      turn.fail();
      throw err;
    }
  }

  /**
   * Completes an upload and learns its SHA-256 (R2 keeps none for a multipart object): from
   * the digest its parts built as they arrived, reading back only what that digest lacks —
   * nothing when the parts came in order to this isolate. A mismatch with `expected` removes
   * the object and answers `checksum_mismatch`.
   */
  async completeUpload(name: string, uploadId: string, parts: R2UploadedPart[], expected?: string): Promise<FileMeta> {
    const upload = this.bucket.resumeMultipartUpload(name, uploadId);
    const object = await this.guardUpload(() => upload.complete(parts));
    const sha256 = await this.digestFrom(object, takeChain(name, uploadId, parts));
    if (expected && expected !== sha256) {
      await this.bucket.delete(name);
      throw new HttpError("checksum_mismatch", `The assembled file's SHA-256 is ${sha256}, not ${expected}; it was not kept.`);
    }
    await this.kv.put(fileShaKey(name), JSON.stringify({ etag: object.etag, sha256 } satisfies ShaSidecar));
    return toMeta(object, undefined, sha256);
  }

  async abortUpload(name: string, uploadId: string): Promise<void> {
    const upload = this.bucket.resumeMultipartUpload(name, uploadId);
    await this.guardUpload(() => upload.abort());
    dropChain(name, uploadId);
  }

  // --- internals -------------------------------------------------------------------------

  /** Streams `body` into R2 through a digest; the digest is kept in the KV sidecar. */
  private async putHashing(
    name: string,
    body: ReadableStream<Uint8Array>,
    length: number,
    options: R2PutOptions,
  ): Promise<{ object: R2Object | null; sha256: string }> {
    const hash = newSha256();
    const object = await this.storeHashing(body, length, { feed: (chunk) => void hash.update(chunk) }, (stream) =>
      this.bucket.put(name, stream, options),
    );
    return { object, sha256: object ? hash.digest("hex") : "" };
  }

  /**
   * Runs `store` on a copy of `body` (through a FixedLengthStream, so R2 knows the length)
   * that hands every chunk to `hasher` on the way; resolves once both the store and the copy
   * are done, so the digest covers every byte stored. If the store fails, the copy is
   * cancelled; if the copy fails (the client broke off), the store fails with it.
   */
  private async storeHashing<T>(
    body: ReadableStream<Uint8Array>,
    length: number,
    hasher: Pick<Turn, "feed">,
    store: (stream: ReadableStream<Uint8Array>) => Promise<T>,
  ): Promise<T> {
    const fixed = new FixedLengthStream(length);
    const stop = new AbortController();
    const copied = copyThrough(body, fixed.writable, (chunk) => hasher.feed(chunk), stop.signal);
    copied.catch(() => {});
    let stored: T;
    try {
      stored = await store(fixed.readable);
    } catch (err) {
      stop.abort(err);
      throw err;
    }
    // A store refused by a precondition (null) need not have read the body.
    if (stored === null) stop.abort(new Error("not stored"));
    else await copied;
    return stored;
  }

  private async sha256Of(object: R2Object): Promise<string | null> {
    const known = knownSha(object);
    if (known) return known;
    const sidecar = await this.kv.get<ShaSidecar>(fileShaKey(object.key), "json");
    return sidecar?.etag === object.etag ? sidecar.sha256 : null;
  }

  private async sidecars(keys: string[]): Promise<Map<string, ShaSidecar>> {
    const out = new Map<string, ShaSidecar>();
    for (let i = 0; i < keys.length; i += 100) {
      const found = await this.kv.get<ShaSidecar>(keys.slice(i, i + 100), "json");
      for (const [k, v] of found) if (v) out.set(k, v);
    }
    return out;
  }

  /** Finishes `chain` (or a fresh digest) with the bytes of `object` past its offset. */
  private async digestFrom(object: R2Object, chain: { hash: Hash; offset: number } | null): Promise<string> {
    const usable = chain && chain.offset <= object.size ? chain : null;
    const hash = usable?.hash ?? newSha256();
    const offset = usable?.offset ?? 0;
    if (offset < object.size) {
      const rest = await this.bucket.get(object.key, {
        ...(offset > 0 && { range: { offset } }),
        onlyIf: { etagMatches: object.etag },
      });
      if (!rest || !("body" in rest)) throw new HttpError("conflict", "The file changed while it was being verified.");
      await hashStream(rest.body, hash);
      readBack.completions++;
      readBack.bytes += object.size - offset;
    }
    return hash.digest("hex");
  }

  private async guardDigest<T>(op: () => Promise<T>, checksum: string): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof Error && DIGEST_ERROR.test(err.message)) {
        throw new HttpError("checksum_mismatch", `The body does not match ${checksum}; nothing was stored.`);
      }
      throw err;
    }
  }

  private async guardUpload<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/NoSuchUpload|upload.*(not exist|not found)|10024/i.test(message)) {
        throw notFound("No multipart upload with that id for that name (it may be completed or aborted).");
      }
      if (/EntityTooSmall|too small|10011/i.test(message)) {
        throw badRequest("Every part but the last must be at least 5 MiB.");
      }
      if (/InvalidPart|part.*(not found|invalid)|10025/i.test(message)) {
        throw badRequest("A part number or etag does not match an uploaded part.");
      }
      throw err;
    }
  }
}

const exists = (name: string) => new HttpError("precondition_failed", `A file named "${name}" already exists (If-None-Match: *).`);

function knownSha(object: R2Object): string | null {
  const native = object.checksums?.sha256;
  if (native) return toHex(native);
  return object.customMetadata?.sha256 ?? null;
}

function toMeta(object: R2Object, sidecar?: ShaSidecar, sha256?: string): FileMeta {
  const fromSidecar = sidecar?.etag === object.etag ? sidecar.sha256 : null;
  return {
    name: object.key,
    size: object.size,
    etag: object.etag,
    sha256: sha256 ?? knownSha(object) ?? fromSidecar,
    contentType: object.httpMetadata?.contentType ?? DEFAULT_TYPE,
    uploaded: object.uploaded.toISOString(),
  };
}
