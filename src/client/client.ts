import { fileNameProblem, filePrefixProblem, folderPathProblem, idProblem, memoryKeyProblem, memoryPrefixProblem } from "../api/names";
import { PeerError, invalidArgument, unreachable } from "./errors";
import { StreamWindows, countBytes } from "./streams";
import type {
  CacheInfo,
  CopyTotals,
  FileDownload,
  FileInfo,
  FileMeta,
  FilePage,
  FolderCreated,
  Health,
  MemoryPage,
  PeerRef,
  PullBatch,
  PullItem,
  PullResult,
  PutBatch,
  PutItem,
  PutResult,
  ReplicaStates,
  ReplicationRuleInput,
  ReplicationRuleStatus,
  SearchPage,
  ShareInfo,
  ShareLink,
  ShareOptions,
  Stats,
  StoredFile,
  TaskPage,
  TaskRecord,
  TaskRequest,
  TaskResult,
  TokenCreated,
  TokenInfo,
  TokenRequest,
  TransferLinks,
  UploadCreated,
  UploadPart,
  ZipDownload,
} from "./types";

const MiB = 1024 * 1024;
/** Above this size `upload` goes multipart: the platform refuses request bodies over 100 MB. */
export const DEFAULT_MULTIPART_THRESHOLD = 64 * MiB;
export const DEFAULT_PART_SIZE = 16 * MiB;
/** The most files one page of `GET /api/files` holds. */
export const MAX_LIST_LIMIT = 1000;
/** R2's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10000;

/** What the client reads of an answer; a fetch `Response` has all of it. */
export interface Reply {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The request the client makes: `fetch` itself fits, and so does `nodeFetch` (node.ts). */
export type FetchLike = (url: URL, init: FetchInit) => Promise<Reply>;

/**
 * A fetch `RequestInit`, plus `reopen`: for a streamed body that can be read again from its
 * start (a file range), a new stream of the same bytes, so a transport may send the request
 * again (`nodeFetch` does when a kept-alive connection was closed under it). fetch ignores it.
 */
export type FetchInit = RequestInit & { duplex?: "half"; headers: Record<string, string>; reopen?: () => ReadableStream<Uint8Array> };

export interface PeerClientOptions {
  /** Base URL of the peer, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** The peer's token (`Authorization: Bearer`); omit for public routes and signed links. */
  token?: string;
  /** How messages name the peer; defaults to its URL. */
  name?: string;
  /** How requests are made; defaults to the global fetch (in Node, `nodeFetch` is lighter). */
  fetch?: FetchLike | typeof fetch;
  /** `upload` uses multipart above this many bytes (default 64 MiB). */
  multipartThreshold?: number;
  /** Bytes per multipart part (default 16 MiB, at least 5 MiB). */
  partSize?: number;
  /** Parts sent at once when the source can be read from any offset (default 3). */
  partConcurrency?: number;
}

/** A body that can be read from any offset: a `Blob`/`File`, or a file on disk (see `node.ts`). */
export interface RandomAccessSource {
  size: number;
  /** Bytes `[start, end)`. */
  open(start: number, end: number): ReadableStream<Uint8Array> | Blob;
}

/** A body that can be read once, of known size: another peer's download, a pipe. */
export interface StreamSource {
  size: number;
  body: ReadableStream<Uint8Array>;
}

export type UploadSource = Blob | RandomAccessSource | StreamSource;

/** Bodies `putFile` sends as one request. A stream needs `size`. */
export type PutBody = Blob | Uint8Array | ArrayBuffer | string | ReadableStream<Uint8Array>;

export interface UploadOptions {
  /** Hex SHA-256 of the whole file: the peer verifies it and keeps nothing on a mismatch. */
  sha256?: string;
  contentType?: string;
  /** Refuse (412 `precondition_failed`) when the name already exists. */
  onlyIfAbsent?: boolean;
  /** Called with the total bytes sent so far. */
  onProgress?: (sent: number) => void;
  signal?: AbortSignal;
}

export interface PutOptions extends UploadOptions {
  /** Byte count of a stream body (required for streams: the peer needs Content-Length). */
  size?: number;
}

interface SendOptions {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: PutBody;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** A stream `body` opened again from its start, for a transport that re-sends a request. */
  reopen?: () => ReadableStream<Uint8Array>;
  /** Statuses that are answers, not errors (besides 2xx). */
  accept?: number[];
}

/**
 * Speaks HTTP to one peer: every route of docs/api.md, streaming uploads and downloads,
 * multipart above a threshold. Runs in Node and in browsers (fetch only). Every failure is
 * a `PeerError` with the contract's code and a one-sentence message.
 */
export class PeerClient {
  readonly url: string;
  readonly name: string;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly partConcurrency: number;
  private readonly token: string | undefined;
  private readonly fetchImpl: FetchLike;

  constructor(options: PeerClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.name = options.name ?? this.url;
    this.token = options.token;
    this.fetchImpl = (options.fetch as FetchLike | undefined) ?? ((url, init) => globalThis.fetch(url, init));
    this.multipartThreshold = options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD;
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE);
    this.partConcurrency = Math.max(1, options.partConcurrency ?? 3);
  }

  // --- health and peers ------------------------------------------------------------------

  /** `GET /api/health` (public). */
  health(signal?: AbortSignal): Promise<Health> {
    return this.json("GET", "/api/health", { signal });
  }

  /** `GET /api/peers` — the peers this one knows. */
  async peers(): Promise<PeerRef[]> {
    return (await this.json<{ peers: PeerRef[] }>("GET", "/api/peers")).peers;
  }

  /** `GET /api/stats` */
  stats(): Promise<Stats> {
    return this.json("GET", "/api/stats");
  }

  // --- files -----------------------------------------------------------------------------

  /** One page of `GET /api/files` (at most `MAX_LIST_LIMIT` files); `delimiter: "/"` lists one level, with its `folders`. */
  async listFiles(
    options: { prefix?: string; cursor?: string; limit?: number; delimiter?: "/"; signal?: AbortSignal } = {},
  ): Promise<FilePage> {
    const { signal, ...query } = options;
    check(filePrefixProblem(query.prefix ?? ""));
    return this.json("GET", "/api/files", { query, signal });
  }

  /** One page of `GET /api/files?search=`: names under `prefix` containing `search`, in any case. */
  async searchFiles(options: {
    search: string;
    prefix?: string;
    cursor?: string;
    limit?: number;
    signal?: AbortSignal;
  }): Promise<SearchPage> {
    const { signal, ...query } = options;
    check(filePrefixProblem(query.prefix ?? ""));
    return this.json("GET", "/api/files", { query, signal });
  }

  /** Every match of a search, page after page (a page may hold none: the cursor is followed). */
  allMatches(search: string, prefix?: string): AsyncGenerator<FileMeta> {
    return everyFile((cursor) => this.searchFiles({ search, prefix, cursor }));
  }

  /** `POST /api/folders` — an empty folder (its `path/` marker); answers the path with its `/`. */
  async createFolder(path: string): Promise<FolderCreated> {
    return this.json("POST", "/api/folders", { json: { path: folderName(path) } });
  }

  /**
   * `DELETE /api/folders/{path}`: an empty folder (resolves to 0), or with `recursive` every
   * file under it (resolves to how many); a non-empty folder without it is a `conflict`.
   */
  async deleteFolder(path: string, options: { recursive?: boolean } = {}): Promise<number> {
    const response = await this.send("DELETE", folderPath(path), { query: { recursive: options.recursive ? "true" : undefined } });
    if (response.status === 204) return 0;
    return ((await response.json()) as { deleted: number }).deleted;
  }

  /** `POST /api/files/{name}/move` — the old name goes only once the copy is whole and verified. */
  async moveFile(name: string, to: string, options: { overwrite?: boolean; signal?: AbortSignal } = {}): Promise<FileMeta> {
    check(fileNameProblem(to));
    return this.json("POST", `${filePath(name)}/move`, { json: { to, overwrite: options.overwrite ?? false }, signal: options.signal });
  }

  /** `POST /api/folders/{path}/copy` — every file under it, to the same relative names under `to`. */
  async copyFolder(path: string, to: string, options: { overwrite?: boolean } = {}): Promise<CopyTotals> {
    return this.json("POST", `${folderPath(path)}/copy`, { json: { to: folderName(to), overwrite: options.overwrite ?? false } });
  }

  /** `POST /api/folders/{path}/move` — every file copied whole first, then the sources go. */
  async moveFolder(path: string, to: string, options: { overwrite?: boolean } = {}): Promise<CopyTotals> {
    return this.json("POST", `${folderPath(path)}/move`, { json: { to: folderName(to), overwrite: options.overwrite ?? false } });
  }

  /**
   * A zip, streamed: `GET /api/zip?prefix=` (a folder; entries named relative to it) or, with
   * `names`, `POST /api/zip` (chosen files; a name ending in `/` is a whole folder).
   */
  async zip(selection: { prefix: string } | { names: string[] }, signal?: AbortSignal): Promise<ZipDownload> {
    let response: Reply;
    if ("prefix" in selection) {
      check(filePrefixProblem(selection.prefix));
      response = await this.send("GET", "/api/zip", { query: { prefix: selection.prefix }, signal });
    } else {
      for (const name of selection.names) check(name.endsWith("/") ? folderPathProblem(name) : fileNameProblem(name));
      response = await this.send("POST", "/api/zip", { json: { names: selection.names }, signal });
    }
    if (!response.body) throw new PeerError("bad_response", `${this.name} sent no body for the zip.`, response.status, this.name);
    const disposition = response.headers.get("content-disposition") ?? "";
    const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
    const filename = encoded ? decodeURIComponent(encoded) : (/filename="([^"]*)"/.exec(disposition)?.[1] ?? "files.zip");
    return { size: Number(response.headers.get("content-length")), filename, body: response.body };
  }

  /** Every file (under `prefix`), page after page. */
  allFiles(prefix?: string): AsyncGenerator<FileMeta> {
    return everyFile((cursor) => this.listFiles({ prefix, cursor }));
  }

  /** `HEAD /api/files/{name}` — the file's size, etag and SHA-256, or null when absent. */
  async headFile(name: string, signal?: AbortSignal): Promise<FileInfo | null> {
    const response = await this.send("HEAD", filePath(name), { signal, accept: [404] });
    if (response.status === 404) return null;
    return fileInfo(name, response);
  }

  /** `GET /api/files/{name}` as a stream; `range` asks for bytes `[start, end]` (206). */
  async getFile(name: string, options: { range?: { start: number; end?: number }; signal?: AbortSignal } = {}): Promise<FileDownload> {
    const headers: Record<string, string> = {};
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
    const response = await this.send("GET", filePath(name), { headers, signal: options.signal });
    if (!response.body) throw new PeerError("bad_response", `${this.name} sent no body for "${name}".`, response.status, this.name);
    return { ...fileInfo(name, response), status: response.status === 206 ? 206 : 200, body: response.body };
  }

  /** Downloads a whole file into memory (small files; stream big ones with `getFile`). */
  async getFileBytes(name: string): Promise<Uint8Array> {
    return (await this.getWholeFile(name)).bytes;
  }

  /** Downloads a whole file into memory, with what its answer says of it (its ETag, SHA-256, type). */
  async getWholeFile(name: string, options: { signal?: AbortSignal } = {}): Promise<FileInfo & { bytes: Uint8Array }> {
    const { body, status: _status, ...info } = await this.getFile(name, options);
    const size = info.size;
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const reader = body.getReader(); ; ) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.byteLength > size) {
        await reader.cancel().catch(() => {});
        throw new PeerError("bad_response", `${this.name} sent more than the ${size} bytes of "${name}".`, 200, this.name);
      }
      bytes.set(value, at);
      at += value.byteLength;
    }
    if (at !== size) throw new PeerError("bad_response", `${this.name} sent ${at} of the ${size} bytes of "${name}".`, 200, this.name);
    return { ...info, bytes };
  }

  /** `PUT /api/files/{name}` — one request. Prefer `upload`, which goes multipart when needed. */
  putFile(name: string, body: PutBody, options: PutOptions = {}): Promise<StoredFile> {
    return this.put(name, body, options);
  }

  /** `putFile`, with a way to open a stream body again (a `RandomAccessSource`). */
  private async put(name: string, body: PutBody, options: PutOptions, reopen?: () => ReadableStream<Uint8Array>): Promise<StoredFile> {
    const size = options.size ?? bodySize(body);
    if (size === undefined) throw new PeerError("bad_request", "A stream body needs its size (the peer requires Content-Length).");
    const headers: Record<string, string> = { "content-length": String(size) };
    if (options.sha256) headers["x-content-sha256"] = options.sha256;
    if (options.contentType) headers["content-type"] = options.contentType;
    if (options.onlyIfAbsent) headers["if-none-match"] = "*";
    let sent: PutBody = body;
    let again = reopen;
    const onProgress = options.onProgress;
    if (onProgress && body instanceof ReadableStream) {
      let total = 0;
      const counted = (stream: ReadableStream<Uint8Array>) => countBytes(stream, (n) => onProgress((total += n)));
      sent = counted(body);
      if (reopen)
        again = () => {
          total = 0;
          return counted(reopen());
        };
    }
    const meta = await this.json<StoredFile>("PUT", filePath(name), { body: sent, headers, signal: options.signal, reopen: again });
    if (onProgress && !(body instanceof ReadableStream)) onProgress(size);
    return meta;
  }

  /**
   * Uploads a file of any size: one PUT up to `multipartThreshold`, multipart above it
   * (aborted on any failure, so nothing is left behind). With `sha256` the peer verifies
   * the whole file and keeps nothing on a mismatch.
   */
  async upload(name: string, source: UploadSource, options: UploadOptions = {}): Promise<StoredFile> {
    check(fileNameProblem(name));
    if (source.size <= this.multipartThreshold) {
      const whole = wholeBody(source);
      const reopen = "open" in source && whole instanceof ReadableStream ? () => streamOf(source.open(0, source.size)) : undefined;
      return this.put(name, whole, { ...options, size: source.size }, reopen);
    }
    return this.uploadMultipart(name, source, options);
  }

  /**
   * `DELETE /api/files/{name}`. `ifSha256`: only if the file is that version (412 otherwise);
   * `origin`: the peer replicating the delete (it is not told of it again).
   */
  async deleteFile(name: string, options: { ifSha256?: string; origin?: string } = {}): Promise<void> {
    const headers: Record<string, string> = {};
    if (options.ifSha256) headers["x-content-sha256"] = options.ifSha256;
    if (options.origin) headers["x-edgepeer-origin"] = options.origin;
    await this.send("DELETE", filePath(name), { headers });
  }

  /**
   * `POST /api/files/{name}/share` — a signed GET link to the file's current version that needs
   * no token until it expires (a number: the TTL in seconds), optionally with a password and a
   * download cap.
   */
  async shareFile(name: string, options: number | ShareOptions = {}, signal?: AbortSignal): Promise<ShareLink> {
    const { signal: own, ...body } = typeof options === "number" ? { ttl: options } : options;
    return this.json("POST", `${filePath(name)}/share`, { json: body, signal: own ?? signal });
  }

  /**
   * `POST /api/files/{name}/copy` — a copy inside this peer, SHA-256 kept; without
   * `overwrite` an existing `to` is 412 `precondition_failed`.
   */
  async copyFile(name: string, to: string, options: { overwrite?: boolean; signal?: AbortSignal } = {}): Promise<FileMeta> {
    check(fileNameProblem(to));
    return this.json("POST", `${filePath(name)}/copy`, { json: { to, overwrite: options.overwrite ?? false }, signal: options.signal });
  }

  /** `POST /api/files/{name}/pull` — this peer fetches another peer's signed link into `name`. */
  async pullFile(name: string, from: string, signal?: AbortSignal): Promise<FileMeta> {
    return this.json("POST", `${filePath(name)}/pull`, { json: { from }, signal });
  }

  /**
   * `POST /api/links` — version-bound GET links to many files (≤ 1000), unregistered and
   * short-lived (`ttl` seconds, default 900, at most 3600). Pass the `{name, etag}` of a listing
   * to sign without the peer reading a file (a stale etag's link answers 410), or names, to have
   * each read (size and SHA-256 answered; absent ones in `missing`).
   */
  async transferLinks(
    files: string[] | Array<{ name: string; etag: string }>,
    options: { ttl?: number; signal?: AbortSignal } = {},
  ): Promise<TransferLinks> {
    const byName = files.every((f) => typeof f === "string");
    for (const f of files) check(fileNameProblem(typeof f === "string" ? f : f.name));
    const body = byName ? { names: files, ttl: options.ttl } : { files: files.map(({ name, etag }) => ({ name, etag })), ttl: options.ttl };
    return this.json("POST", "/api/links", { json: body, signal: options.signal });
  }

  /**
   * `POST /api/pulls` — this peer pulls many small files (≤ 100) from other peers' links, the
   * storage quota reserved once for their declared sizes. One result per item, in order: the
   * stored file, or why it failed (nothing stored for it); the others are still pulled.
   */
  async pullFiles(items: PullItem[], signal?: AbortSignal): Promise<PullResult[]> {
    for (const item of items) check(fileNameProblem(item.name));
    return (await this.json<PullBatch>("POST", "/api/pulls", { json: { items }, signal })).results;
  }

  /**
   * `POST /api/puts` — many small files (≤ 100, each ≤ 16 MiB, ≤ 64 MiB in all) in one request,
   * the storage quota reserved once for them. One result per file, in order: the stored file,
   * or why it failed (nothing stored for it); the others are still stored.
   */
  async putFiles(items: PutItem[], signal?: AbortSignal): Promise<PutResult[]> {
    for (const item of items) check(fileNameProblem(item.name));
    const manifest = {
      files: items.map(({ name, bytes, sha256, contentType }) => ({ name, size: bytes.byteLength, sha256, contentType })),
    };
    // The manifest line, then the files' bytes: a Blob has the known length the peer needs.
    const body = new Blob([`${JSON.stringify(manifest)}\n`, ...items.map((item) => item.bytes as Uint8Array<ArrayBuffer>)]);
    return (await this.json<PutBatch>("POST", "/api/puts", { body, headers: { "content-length": String(body.size) }, signal })).results;
  }

  // --- multipart -------------------------------------------------------------------------

  /** `POST /api/uploads` */
  async createUpload(name: string, contentType?: string): Promise<UploadCreated> {
    check(fileNameProblem(name));
    return this.json("POST", "/api/uploads", { json: contentType ? { name, contentType } : { name } });
  }

  /** `PUT /api/uploads/{id}/parts/{n}?name=` */
  async uploadPart(
    uploadId: string,
    name: string,
    part: number,
    body: PutBody,
    size: number,
    signal?: AbortSignal,
    reopen?: () => ReadableStream<Uint8Array>,
  ): Promise<UploadPart> {
    check(fileNameProblem(name));
    if (!Number.isInteger(part) || part < 1) throw invalidArgument(`The part number ${part} is not a whole number ≥ 1.`);
    return this.json("PUT", `${uploadPath(uploadId)}/parts/${part}`, {
      query: { name },
      body,
      headers: { "content-length": String(size) },
      signal,
      reopen,
    });
  }

  /** `POST /api/uploads/{id}/complete?name=` — with `sha256` the peer verifies the whole file. */
  async completeUpload(uploadId: string, name: string, parts: UploadPart[], sha256?: string): Promise<FileMeta> {
    check(fileNameProblem(name));
    return this.json("POST", `${uploadPath(uploadId)}/complete`, {
      query: { name },
      json: sha256 ? { parts, sha256 } : { parts },
    });
  }

  /** `DELETE /api/uploads/{id}?name=` */
  async abortUpload(uploadId: string, name: string): Promise<void> {
    check(fileNameProblem(name));
    await this.send("DELETE", uploadPath(uploadId), { query: { name } });
  }

  private async uploadMultipart(name: string, source: UploadSource, options: UploadOptions): Promise<FileMeta> {
    const size = source.size;
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS));
    const count = Math.max(1, Math.ceil(size / partSize));
    const lengthOf = (i: number) => Math.min(partSize, size - i * partSize);
    if (options.onlyIfAbsent && (await this.headFile(name))) {
      throw new PeerError("precondition_failed", `A file named "${name}" already exists.`, 412, this.name);
    }

    const { uploadId } = await this.createUpload(name, options.contentType);
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    let sent = 0;
    const counted = (body: ReadableStream<Uint8Array>) =>
      options.onProgress ? countBytes(body, (n) => options.onProgress?.((sent += n))) : body;

    try {
      const parts: UploadPart[] = new Array(count);
      if ("body" in source) {
        // Read once: parts go one after another, each a window of the same stream.
        const windows = new StreamWindows(source.body);
        try {
          for (let i = 0; i < count; i++) {
            parts[i] = await this.uploadPart(uploadId, name, i + 1, counted(windows.take(lengthOf(i))), lengthOf(i), signal);
          }
        } catch (err) {
          await windows.cancel(err);
          throw err;
        }
      } else {
        let next = 0;
        const worker = async () => {
          while (next < count && !signal.aborted) {
            const i = next++;
            const start = i * partSize;
            const piece = "open" in source ? source.open(start, start + lengthOf(i)) : source.slice(start, start + lengthOf(i));
            // A part read from a file can be read again: the transport may re-send it.
            let partSent = 0;
            const countedPart = (stream: ReadableStream<Uint8Array>) =>
              options.onProgress
                ? countBytes(stream, (n) => {
                    partSent += n;
                    options.onProgress?.((sent += n));
                  })
                : stream;
            const body = piece instanceof ReadableStream ? countedPart(piece) : piece;
            const reopen =
              piece instanceof ReadableStream && "open" in source
                ? () => {
                    sent -= partSent;
                    partSent = 0;
                    return countedPart(streamOf(source.open(start, start + lengthOf(i))));
                  }
                : undefined;
            parts[i] = await this.uploadPart(uploadId, name, i + 1, body, lengthOf(i), signal, reopen);
            if (!(piece instanceof ReadableStream)) options.onProgress?.((sent += lengthOf(i)));
          }
        };
        const workers = Array.from({ length: Math.min(this.partConcurrency, count) }, () =>
          worker().catch((err: unknown) => {
            stop.abort();
            throw err;
          }),
        );
        const results = await Promise.allSettled(workers);
        // The first real failure, not the aborts it caused in the other workers.
        const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
        const cause = failures.find((e) => !(e instanceof PeerError && e.code === "aborted")) ?? failures[0];
        if (cause !== undefined) throw cause;
        if (options.signal?.aborted) throw new PeerError("aborted", "The upload was aborted.", 0, this.name);
      }
      try {
        return await this.completeUpload(uploadId, name, parts, options.sha256);
      } catch (err) {
        // The peer could not verify the digest before replacing an existing file (parts hashed
        // out of turn) and kept it, upload open: complete without it and check the answer's.
        if (!(options.sha256 && err instanceof PeerError && err.status === 409)) throw err;
        const meta = await this.completeUpload(uploadId, name, parts);
        if (meta.sha256 !== options.sha256) {
          throw new PeerError(
            "checksum_mismatch",
            `${this.name} stored "${name}" with SHA-256 ${meta.sha256}, not ${options.sha256}.`,
            400,
            this.name,
          );
        }
        return meta;
      }
    } catch (err) {
      // Best effort: a completed-then-refused upload is already gone (404).
      await this.abortUpload(uploadId, name).catch(() => undefined);
      throw err;
    }
  }

  // --- memory ----------------------------------------------------------------------------

  /** One page of `GET /api/memory`. */
  async listMemory(options: { prefix?: string; cursor?: string } = {}): Promise<MemoryPage> {
    check(memoryPrefixProblem(options.prefix ?? ""));
    return this.json("GET", "/api/memory", { query: options });
  }

  /** `GET /api/memory/{key}` — the value; a `not_found` PeerError when absent. */
  async getMemory(key: string): Promise<unknown> {
    return (await this.json<{ key: string; value: unknown }>("GET", memoryPath(key))).value;
  }

  /** `PUT /api/memory/{key}` — any JSON value, optionally expiring after `ttlSeconds` (60 to 315360000). */
  async setMemory(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    await this.json("PUT", memoryPath(key), { json: ttlSeconds === undefined ? { value } : { value, ttl: ttlSeconds } });
  }

  /** `DELETE /api/memory/{key}` */
  async deleteMemory(key: string): Promise<void> {
    await this.send("DELETE", memoryPath(key));
  }

  // --- tasks, history, cache -------------------------------------------------------------

  /** `POST /api/tasks` — runs a JavaScript function in the peer's sandbox. */
  runTask(task: TaskRequest): Promise<TaskResult> {
    return this.json("POST", "/api/tasks", { json: task });
  }

  /** `POST /api/tasks/batch` — results in order. */
  async runBatch(tasks: TaskRequest[]): Promise<TaskResult[]> {
    return (await this.json<{ results: TaskResult[] }>("POST", "/api/tasks/batch", { json: { tasks } })).results;
  }

  /** `GET /api/tasks` — the history, newest first. */
  listTasks(options: { limit?: number; cursor?: string; status?: "succeeded" | "failed" } = {}): Promise<TaskPage> {
    return this.json("GET", "/api/tasks", { query: options });
  }

  /** `GET /api/tasks/{id}` */
  async getTask(id: string): Promise<TaskRecord> {
    return this.json("GET", `/api/tasks/${idSegment(id, "task id")}`);
  }

  /** `DELETE /api/tasks` — clears the history. */
  async clearHistory(): Promise<void> {
    await this.send("DELETE", "/api/tasks");
  }

  /** `GET /api/cache` */
  cacheInfo(): Promise<CacheInfo> {
    return this.json("GET", "/api/cache");
  }

  /** `DELETE /api/cache` */
  async clearCache(): Promise<void> {
    await this.send("DELETE", "/api/cache");
  }

  // --- access: scoped tokens and share links ----------------------------------------------

  /** `POST /api/tokens` — mints a scoped token (peer token only); the answer is the only time its secret is shown. */
  createToken(request: TokenRequest): Promise<TokenCreated> {
    return this.json("POST", "/api/tokens", { json: request });
  }

  /** `GET /api/tokens` — every live scoped token, never its secret. */
  async listTokens(): Promise<TokenInfo[]> {
    return (await this.json<{ tokens: TokenInfo[] }>("GET", "/api/tokens")).tokens;
  }

  /** `DELETE /api/tokens/{id}` — revoked at once. */
  async revokeToken(id: string): Promise<void> {
    await this.send("DELETE", `/api/tokens/${idSegment(id, "token id")}`);
  }

  /** `GET /api/shares` — every live share link (never its URL or password). */
  async listShares(): Promise<ShareInfo[]> {
    return (await this.json<{ shares: ShareInfo[] }>("GET", "/api/shares")).shares;
  }

  /** `DELETE /api/shares/{id}` — the link is 410 from then on. */
  async revokeShare(id: string): Promise<void> {
    await this.send("DELETE", `/api/shares/${idSegment(id, "share id")}`);
  }

  // --- replication -----------------------------------------------------------------------

  /** `GET /api/replication` — every rule with its delivery status. */
  async replicationRules(): Promise<ReplicationRuleStatus[]> {
    return (await this.json<{ rules: ReplicationRuleStatus[] }>("GET", "/api/replication")).rules;
  }

  /** `PUT /api/replication/{id}` — adds or replaces a rule; `token` is the destination's, never shown again. */
  async putReplicationRule(id: string, rule: ReplicationRuleInput): Promise<ReplicationRuleStatus> {
    return this.json("PUT", `/api/replication/${idSegment(id, "rule id")}`, { json: rule });
  }

  /** `DELETE /api/replication/{id}` */
  async deleteReplicationRule(id: string): Promise<void> {
    await this.send("DELETE", `/api/replication/${idSegment(id, "rule id")}`);
  }

  /** `POST /api/replication/{id}/reconcile` — compares both sides now and queues every difference. */
  async reconcileReplication(id: string): Promise<void> {
    await this.send("POST", `/api/replication/${idSegment(id, "rule id")}/reconcile`);
  }

  /**
   * `GET /api/replication/{id}/files` — one page of a folder under the rule (one level), each
   * file with whether its copy on the destination is `current`, `differs`, `missing` or `unknown`.
   */
  async replicaStates(id: string, options: { prefix?: string; cursor?: string } = {}): Promise<ReplicaStates> {
    if (options.prefix !== undefined) check(filePrefixProblem(options.prefix));
    return this.json("GET", `/api/replication/${idSegment(id, "rule id")}/files`, { query: options });
  }

  // --- transport -------------------------------------------------------------------------

  /** Sends a request; an answer outside 2xx (and `accept`) throws the contract's error. */
  async send(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const init: FetchInit = { method, headers, signal: options.signal };
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      init.body = options.body as BodyInit;
      // A streamed request body (Node; Chromium only over HTTP/2).
      if (options.body instanceof ReadableStream) {
        init.duplex = "half";
        if (options.reopen) init.reopen = options.reopen;
      }
    }
    let response: Reply;
    try {
      response = await this.fetchImpl(url, init);
    } catch (err) {
      throw unreachable(this.name, err);
    }
    if (response.ok || options.accept?.includes(response.status)) return response;
    throw await this.errorOf(response);
  }

  private async json<T>(method: string, path: string, options: SendOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    try {
      return (await response.json()) as T;
    } catch (err) {
      throw new PeerError(
        "bad_response",
        `${this.name} answered ${method} ${path} with a body that is not JSON (${describe(err)}).`,
        response.status,
        this.name,
      );
    }
  }

  private async errorOf(response: Reply): Promise<PeerError> {
    let code = codeOfStatus(response.status);
    let message = `${this.name} answered ${response.status} ${response.statusText}`.trim() + ".";
    try {
      const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code === "string") code = body.error.code;
      if (typeof body.error?.message === "string") message = body.error.message;
    } catch {
      // Not the contract's error shape (a HEAD, a proxy's page): the status says enough.
    }
    return new PeerError(code, message, response.status, this.name);
  }
}

/**
 * `/api/files/<name>` with each segment percent-encoded and the `/` kept. A name the contract
 * refuses (`..`, `a//b`, …) is an `invalid_argument` PeerError: it could become another route.
 */
export function filePath(name: string): string {
  check(fileNameProblem(name));
  return `/api/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/** A folder path the contract allows (with or without its trailing `/`), or an `invalid_argument` PeerError. */
function folderName(path: string): string {
  check(folderPathProblem(path));
  return path;
}

/** Every file of a paged listing, following its cursor to the end (a page may hold none). */
async function* everyFile(page: (cursor?: string) => Promise<{ files: FileMeta[]; cursor: string | null }>): AsyncGenerator<FileMeta> {
  let cursor: string | undefined;
  do {
    const next = await page(cursor);
    yield* next.files;
    cursor = next.cursor ?? undefined;
  } while (cursor);
}

/** `/api/folders/<path>`, each segment percent-encoded, the trailing `/` dropped; a path the contract refuses throws. */
export function folderPath(path: string): string {
  const bare = folderName(path).replace(/\/$/, "");
  return `/api/folders/${bare.split("/").map(encodeURIComponent).join("/")}`;
}

/** `/api/memory/<key>`, the key one encoded segment; a key the contract refuses throws. */
function memoryPath(key: string): string {
  check(memoryKeyProblem(key));
  return `/api/memory/${encodeURIComponent(key)}`;
}

/** `/api/uploads/<id>`; an id that is not one path segment throws. */
function uploadPath(uploadId: string): string {
  return `/api/uploads/${idSegment(uploadId, "upload id")}`;
}

/** An id the peer made, as one encoded path segment; an id that is not one segment throws. */
function idSegment(id: string, what: string): string {
  check(idProblem(id, what));
  return encodeURIComponent(id);
}

/** Throws `invalid_argument` for a problem found before anything is sent. */
function check(problem: string | null): void {
  if (problem !== null) throw invalidArgument(problem);
}

function fileInfo(name: string, response: Reply): FileInfo {
  const h = response.headers;
  const range = h.get("content-range");
  const total = range ? Number(range.split("/")[1]) : Number(h.get("content-length"));
  return {
    name,
    size: Number.isFinite(total) ? total : 0,
    etag: (h.get("etag") ?? "").replace(/^"|"$/g, ""),
    sha256: h.get("x-content-sha256") || null,
    contentType: h.get("content-type") ?? "application/octet-stream",
    lastModified: h.get("last-modified"),
  };
}

function wholeBody(source: UploadSource): PutBody {
  if ("body" in source) return source.body;
  if ("open" in source) return source.open(0, source.size);
  return source;
}

const streamOf = (body: ReadableStream<Uint8Array> | Blob): ReadableStream<Uint8Array> =>
  body instanceof ReadableStream ? body : (body.stream() as ReadableStream<Uint8Array>);

function bodySize(body: PutBody): number | undefined {
  if (typeof body === "string") return new TextEncoder().encode(body).byteLength;
  if (body instanceof Blob) return body.size;
  if (body instanceof ReadableStream) return undefined;
  return body.byteLength;
}

const STATUS_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  411: "length_required",
  412: "precondition_failed",
  413: "payload_too_large",
  416: "range_not_satisfiable",
  429: "too_many_requests",
  502: "upstream_failed",
};
const codeOfStatus = (status: number) => STATUS_CODES[status] ?? (status >= 500 ? "internal" : "bad_response");

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));
