import { isEtag } from "../api/etags";
import { HttpError, badRequest, notFound } from "../http/errors";
import { toHex } from "../http/crypto";
import { DEFAULT_CONTENT_TYPE } from "../http/mediaType";
import { type Hash, copyThrough, hashStream, newSha256 } from "./hashing";
import type { FileEvents } from "../replication/enqueue";
import { fileShaKey, legacyFileShaKey } from "./keys";
import { type Turn, dropChain, joinChain, readBack, startChain, takeChain } from "./uploadDigests";
import { isRef, newRef, openUploadId, sealUploadId } from "./uploadIds";

/** A stored file as listings and upload answers show it. */
export interface FileMeta {
  name: string;
  size: number;
  etag: string;
  sha256: string | null;
  contentType: string;
  uploaded: string;
  /** A file stored by a pull (a replica): the R2 etag of the source's file it is a copy of. */
  sourceEtag?: string;
}

export interface FilePage {
  files: FileMeta[];
  /** With a delimiter: the sub-folders one level down (`docs/a/`), from R2's delimitedPrefixes. */
  folders?: string[];
  cursor: string | null;
}

/** An empty folder is a zero-byte object named `path/` (no file name ends in `/`); it is never shown as a file. */
export const isFolderMarker = (key: string) => key.endsWith("/");

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
  /** The peer this file was replicated from (kept with it, so it is never replicated back there). */
  origin?: string;
  /**
   * The R2 etag of the file these bytes were pulled from (`isEtag`, src/api/etags.ts), kept with the copy: it says
   * which version the copy is of, when no SHA-256 can (replication's `sameContent`).
   */
  sourceEtag?: string;
  /**
   * The version this put replaces, when the caller read it while holding the name
   * (`changeFiles`): the store then reads no head of its own.
   */
  previous?: R2Object | null;
}

export interface DeleteOptions {
  /** Delete only if the file's SHA-256 is this one (412 otherwise): a replica deleted by its origin. */
  ifSha256?: string;
  /** The peer that asked for the delete by replication: it is not told of it again. */
  origin?: string;
}

/** Read range of a GET. */
export interface ByteRange {
  offset: number;
  length: number;
}

const DEFAULT_TYPE = DEFAULT_CONTENT_TYPE;
/** R2 lists one API page may take: 1000 names at 100 a call (R2's page with metadata, at worst). */
const MAX_LIST_READS = 10;
/** R2 reports a SHA-256 mismatch with this error code (10037 on the platform, "BadDigest" locally). */
const DIGEST_ERROR = /sha-?256|digest|checksum|10037/i;

/**
 * A SHA-256 the peer computed, in KV under `fileShaKey(name, ref)`. A legacy record
 * (`sha:<name>`, from before refs) also carries the etag it was computed for.
 */
interface ShaSidecar {
  sha256: string;
  etag?: string;
}

/**
 * Files on R2. The SHA-256 of a file travels with it: in `customMetadata.sha256` (and R2's
 * own checksum) when the client sent it, else in a KV sidecar keyed by the version's random
 * `customMetadata.shaRef` — R2 metadata is fixed at the put, before a streamed digest is
 * known. The sidecar is written before R2 commits the object (the last bytes wait for it), so
 * no object the peer wrote is ever without its SHA-256 (docs/storage.md).
 */
export class FileStore {
  /**
   * @param uploadSecret keys the MAC of upload ids (`uploadIds.ts`): the peer's name and token,
   *   so an id made for another name or by another peer is refused before R2 sees it.
   */
  constructor(
    private readonly bucket: R2Bucket,
    private readonly kv: KVNamespace,
    private readonly uploadSecret = "",
    /** Told of every acknowledged write and delete (replication), before the answer. */
    private readonly events?: FileEvents,
  ) {}

  /** A page of files under `prefix`; with `delimiter` ("/") one level only, and its sub-folders. */
  async list(prefix: string, cursor: string | undefined, limit: number, delimiter?: "/"): Promise<FilePage> {
    const objects: R2Object[] = [];
    const folders = new Set<string>();
    let next: string | undefined = cursor;
    let truncated = true;
    // R2 may answer fewer than `limit` when metadata is included (Miniflare: 100 a call): the
    // page is filled from several R2 lists, so a client's requests follow its pages, not the files.
    for (let reads = 0; truncated && objects.length + folders.size < limit && reads < MAX_LIST_READS; reads++) {
      const page = await this.bucket.list({
        prefix,
        cursor: next,
        limit: limit - objects.length - folders.size,
        ...(delimiter && { delimiter }),
        include: ["httpMetadata", "customMetadata"],
      });
      objects.push(...page.objects);
      for (const folder of page.delimitedPrefixes) folders.add(folder);
      truncated = page.truncated;
      next = page.truncated ? page.cursor : undefined;
    }
    const files = await this.metaOf(objects);
    const more = truncated ? (next ?? null) : null;
    return delimiter ? { files, folders: [...folders], cursor: more } : { files, cursor: more };
  }

  /** Listed objects (listed with their metadata) as files, folder markers left out, each with its SHA-256. */
  async metaOf(objects: R2Object[]): Promise<FileMeta[]> {
    const files = objects.filter((o) => !isFolderMarker(o.key));
    const keys = files.map(sidecarKeyOf);
    const wanted = keys.filter((k): k is string => k !== null);
    const sidecars = wanted.length ? await this.sidecars(wanted) : new Map<string, ShaSidecar>();
    return files.map((o, i) => toMeta(o, shaFromSidecar(o, sidecars.get(keys[i] ?? ""))));
  }

  /**
   * Deletes listed objects (at most 1000, R2's batch; listed with their metadata), the KV
   * SHA-256 records of those that have one, and tells replication of each file deleted.
   */
  async deleteMany(objects: R2Object[]): Promise<void> {
    if (objects.length === 0) return;
    const files = objects.filter((o) => !isFolderMarker(o.key));
    const deleted = this.events ? await this.metaOf(files) : [];
    await this.bucket.delete(objects.map((o) => o.key));
    const keys = files.map(sidecarKeyOf).filter((k): k is string => k !== null);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => this.kv.delete(k)));
    for (const file of deleted) await this.events?.deleted(file.name, file.sha256);
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
   * the stream is teed into a digest beside the put and the result kept in the version's
   * sidecar, written before the last byte reaches R2. A failed or short stream stores
   * nothing: R2 writes an object whole or not at all. `contentType` must be checked already
   * (`checkContentType`): a stored type is served as it is.
   */
  async put(name: string, body: ReadableStream<Uint8Array> | Uint8Array, opts: PutOptions): Promise<FileMeta> {
    const httpMetadata = { contentType: opts.contentType || DEFAULT_TYPE };
    const onlyIf = opts.onlyIfAbsent ? new Headers({ "if-none-match": "*" }) : undefined;
    // The version this put replaces: its sidecar, if any, goes once the new one is in. Read
    // alongside the upload, so it costs no time.
    const previous = opts.previous !== undefined ? opts.previous : this.bucket.head(name).catch(() => null);
    // Where a pulled copy came from: the peer, and the version it is a copy of.
    const provenance: Record<string, string> = {
      ...(opts.origin && { origin: opts.origin }),
      ...(opts.sourceEtag && isEtag(opts.sourceEtag) && { sourceEtag: opts.sourceEtag }),
    };

    if (opts.sha256) {
      const sha256 = opts.sha256;
      const check = opts.md5 ? { md5: opts.md5 } : { sha256 };
      const object = await this.guardDigest(
        () => this.bucket.put(name, body, { httpMetadata, customMetadata: { sha256, ...provenance }, ...check, onlyIf }),
        opts.md5 ? "its MD5" : "X-Content-SHA256",
      );
      if (!object) throw exists(name);
      await this.forgetSidecarOf(await previous, object);
      await this.events?.written(name, opts.origin);
      return toMeta(object, sha256);
    }

    const ref = newRef();
    const key = fileShaKey(name, ref);
    const hash = newSha256();
    let sha256: string | null = null;
    let object: R2Object | null;
    try {
      object = await this.storeHashing(
        body instanceof Uint8Array ? new Blob([body]).stream() : body,
        opts.length,
        { feed: (chunk) => void hash.update(chunk) },
        (stream) => this.bucket.put(name, stream, { httpMetadata, customMetadata: { shaRef: ref, ...provenance }, onlyIf }),
        // Every byte is hashed and the last is still held back: R2 cannot commit before this.
        async () => {
          sha256 = hash.digest("hex");
          await this.kv.put(key, JSON.stringify({ sha256 } satisfies ShaSidecar));
        },
      );
    } catch (err) {
      if (sha256) await this.kv.delete(key).catch(() => {});
      throw err;
    }
    if (!object || !sha256) {
      if (sha256) await this.kv.delete(key).catch(() => {});
      throw exists(name);
    }
    await this.forgetSidecarOf(await previous, object);
    await this.events?.written(name, opts.origin);
    return toMeta(object, sha256);
  }

  /** Bytes of the file `name`, 0 when there is none. */
  async sizeOf(name: string): Promise<number> {
    return (await this.bucket.head(name))?.size ?? 0;
  }

  /** R2's head of `name` (size, etag, metadata; no SHA-256 lookup), or null when there is none. */
  stat(name: string): Promise<R2Object | null> {
    return this.bucket.head(name);
  }

  /** Deletes a file; false when there was none. */
  async delete(name: string, opts: DeleteOptions = {}): Promise<boolean> {
    const object = await this.bucket.head(name);
    if (!object) return false;
    const sha256 = this.events || opts.ifSha256 ? await this.sha256Of(object) : null;
    if (opts.ifSha256 && sha256 !== opts.ifSha256) {
      throw new HttpError("precondition_failed", `"${name}" is not the version with SHA-256 ${opts.ifSha256}; it was kept.`);
    }
    await this.bucket.delete(name);
    const key = sidecarKeyOf(object);
    if (key) await this.kv.delete(key);
    await this.events?.deleted(name, sha256, opts.origin);
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
        if (isFolderMarker(o.key)) continue;
        count++;
        bytes += o.size;
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return { count, bytes };
  }

  // --- multipart -------------------------------------------------------------------------

  /** Starts a multipart upload; the id is bound to `name` and this peer (`uploadIds.ts`). */
  async createUpload(name: string, contentType?: string): Promise<string> {
    const ref = newRef();
    const upload = await this.bucket.createMultipartUpload(name, {
      httpMetadata: { contentType: contentType || DEFAULT_TYPE },
      customMetadata: { shaRef: ref },
    });
    const id = sealUploadId(this.uploadSecret, name, ref, upload.uploadId);
    startChain(name, id);
    return id;
  }

  /**
   * Stores part `part` (`body` of exactly `length` bytes). When the part can join its upload's
   * digest in order (`uploadDigests.ts`) it is hashed on the way to R2.
   */
  async uploadPart(name: string, uploadId: string, part: number, body: ReadableStream, length: number): Promise<R2UploadedPart> {
    const upload = this.bucket.resumeMultipartUpload(name, this.openUpload(name, uploadId).r2Id);
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
   * Completes an upload and learns its SHA-256 (R2 keeps none for a multipart object). The
   * previous version of the file is never lost to a mismatch with `expected`:
   * - when every part was hashed as it arrived (`uploadDigests.ts`), the digest is final
   *   before R2 assembles anything: a mismatch aborts the upload and the old file is untouched,
   *   and the SHA-256 is recorded before the object exists;
   * - otherwise the assembled file is read back (only what the digest lacks). Over an existing
   *   file with `expected`, that cannot be verified in time, so it is refused (409) with the
   *   upload left open; over no file, a mismatch removes what was assembled.
   */
  async completeUpload(name: string, uploadId: string, parts: R2UploadedPart[], expected?: string): Promise<FileMeta> {
    const { ref, r2Id } = this.openUpload(name, uploadId);
    const upload = this.bucket.resumeMultipartUpload(name, r2Id);
    const key = fileShaKey(name, ref);
    const chain = takeChain(name, uploadId, parts);

    if (chain?.whole) {
      const sha256 = chain.hash.digest("hex");
      if (expected && expected !== sha256) {
        await this.guardUpload(() => upload.abort());
        throw mismatch(sha256, expected, "nothing was stored and the previous version, if any, is kept");
      }
      const previous = this.bucket.head(name).catch(() => null);
      await this.kv.put(key, JSON.stringify({ sha256 } satisfies ShaSidecar));
      let object: R2Object;
      try {
        object = await this.guardUpload(() => upload.complete(parts));
      } catch (err) {
        await this.kv.delete(key).catch(() => {});
        throw err;
      }
      await this.forgetSidecarOf(await previous, object);
      await this.events?.written(name);
      return toMeta(object, sha256);
    }

    const previous = await this.bucket.head(name);
    if (expected && previous) {
      throw new HttpError(
        "conflict",
        `"${name}" exists and this upload's SHA-256 cannot be verified before it would replace it (its parts were not all hashed as they arrived: sent out of order, retried, or received by another instance). The upload is still open: complete it without "sha256" and compare the answer's, or abort it and upload again.`,
      );
    }
    const object = await this.guardUpload(() => upload.complete(parts));
    const sha256 = await this.digestFrom(object, chain);
    if (expected && expected !== sha256) {
      await this.bucket.delete(name);
      throw mismatch(sha256, expected, "it was not kept");
    }
    await this.kv.put(key, JSON.stringify({ sha256 } satisfies ShaSidecar));
    await this.forgetSidecarOf(previous, object);
    await this.events?.written(name);
    return toMeta(object, sha256);
  }

  /**
   * Aborts an upload. An upload this peer made for `name` that is already completed or aborted
   * is no error (nothing is left behind either way); an id it did not make for `name` is a 404.
   */
  async abortUpload(name: string, uploadId: string): Promise<void> {
    const upload = this.bucket.resumeMultipartUpload(name, this.openUpload(name, uploadId).r2Id);
    dropChain(name, uploadId);
    try {
      await this.guardUpload(() => upload.abort());
    } catch (err) {
      if (!(err instanceof HttpError && err.code === "not_found")) throw err;
    }
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Runs `store` on a copy of `body` (through a FixedLengthStream, so R2 knows the length)
   * that hands every chunk to `hasher` on the way; resolves once both the store and the copy
   * are done, so the digest covers every byte stored. `beforeLastByte` runs once every byte
   * is hashed, before the chunk holding the last one reaches the store (so before R2 can
   * commit). If the store fails, the copy is cancelled; if the copy fails (the client broke
   * off), the store fails with it.
   */
  private async storeHashing<T>(
    body: ReadableStream<Uint8Array>,
    length: number,
    hasher: Pick<Turn, "feed">,
    store: (stream: ReadableStream<Uint8Array>) => Promise<T>,
    beforeLastByte?: () => Promise<void>,
  ): Promise<T> {
    const fixed = new FixedLengthStream(length);
    const stop = new AbortController();
    if (length === 0) await beforeLastByte?.();
    let seen = 0;
    const copied = copyThrough(
      body,
      fixed.writable,
      (chunk) => {
        hasher.feed(chunk);
        seen += chunk.byteLength;
        // The chunk that completes the body is written only once this settles.
        return seen === length && chunk.byteLength > 0 ? beforeLastByte?.() : undefined;
      },
      stop.signal,
    );
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
    const key = sidecarKeyOf(object);
    return key ? shaFromSidecar(object, await this.kv.get<ShaSidecar>(key, "json")) : null;
  }

  private async sidecars(keys: string[]): Promise<Map<string, ShaSidecar>> {
    const out = new Map<string, ShaSidecar>();
    for (let i = 0; i < keys.length; i += 100) {
      const found = await this.kv.get<ShaSidecar>(keys.slice(i, i + 100), "json");
      for (const [k, v] of found) if (v) out.set(k, v);
    }
    return out;
  }

  /** Drops the sidecar of `previous`, a version `current` replaced (never `current`'s own). */
  private async forgetSidecarOf(previous: R2Object | null, current: R2Object): Promise<void> {
    if (!previous) return;
    const key = sidecarKeyOf(previous);
    if (key && key !== sidecarKeyOf(current)) await this.kv.delete(key);
  }

  /** The upload inside a client's id, or 404 when this peer did not issue it for `name`. */
  private openUpload(name: string, uploadId: string): { ref: string; r2Id: string } {
    const opened = openUploadId(this.uploadSecret, name, uploadId);
    if (!opened) throw notFound(`No multipart upload with that id for "${name}" on this peer.`);
    return opened;
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
const mismatch = (actual: string, expected: string, outcome: string) =>
  new HttpError("checksum_mismatch", `The assembled file's SHA-256 is ${actual}, not ${expected}; ${outcome}.`);

/** Where the peer recorded `object`'s SHA-256, or null: it carries its own, or has no record. */
function sidecarKeyOf(object: R2Object): string | null {
  if (knownSha(object)) return null;
  const ref = object.customMetadata?.shaRef;
  if (ref !== undefined) return isRef(ref) ? fileShaKey(object.key, ref) : null;
  return legacyFileShaKey(object.key);
}

/** The SHA-256 in `sidecar` if it is `object`'s (a legacy record must name its etag). */
function shaFromSidecar(object: R2Object, sidecar: ShaSidecar | null | undefined): string | null {
  if (!sidecar) return null;
  if (sidecar.etag !== undefined && sidecar.etag !== object.etag) return null;
  return sidecar.sha256;
}

function knownSha(object: R2Object): string | null {
  const native = object.checksums?.sha256;
  if (native) return toHex(native);
  return object.customMetadata?.sha256 ?? null;
}

function toMeta(object: R2Object, sha256: string | null = null): FileMeta {
  const sourceEtag = object.customMetadata?.sourceEtag;
  return {
    name: object.key,
    size: object.size,
    etag: object.etag,
    sha256: sha256 ?? knownSha(object),
    contentType: object.httpMetadata?.contentType ?? DEFAULT_TYPE,
    uploaded: object.uploaded.toISOString(),
    ...(sourceEtag !== undefined && isEtag(sourceEtag) && { sourceEtag }),
  };
}
