import type { IRequest } from "itty-router";
import type { FilePage, SearchPage, StoredFile } from "../api/types";
import type { PeerEnv } from "../env";
import { principalOf } from "../http/auth";
import { bodyBrokenOff, contentLength, watchedBody } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import { json, noContent } from "../http/json";
import { decodeParam } from "../http/paths";
import { checkContentType, servableContentType } from "../http/mediaType";
import { etagMatches, rangeOf } from "../http/range";
import { fileStore, folderStore } from "../storage/fileStore";
import { MAX_FILE_NAME_BYTES, checkFileName, checkNamePrefix, utf8Length } from "../storage/names";

export { fileStore };
import { changeFiles } from "../storage/quota";

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** A single R2 put takes at most 5 GiB; larger files go through multipart. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;

export const fileNameOf = (request: IRequest) => checkFileName(decodeParam(request.params.name, "file name"));

/**
 * `GET /api/files?prefix=&cursor=&limit=`; `delimiter=/` for one level with its `folders`;
 * `search=` for the names containing a term (with `scanned`).
 */
export async function listFiles(request: IRequest, env: PeerEnv): Promise<Response> {
  const url = new URL(request.url);
  const limitParam = url.searchParams.get("limit");
  const limit = limitParam === null ? 1000 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest("limit must be a whole number from 1 to 1000.");
  const prefix = checkNamePrefix(url.searchParams.get("prefix") ?? "");
  const cursor = url.searchParams.get("cursor") || undefined;
  const delimiter = url.searchParams.get("delimiter");
  if (delimiter !== null && delimiter !== "/") throw badRequest('The only delimiter is "/".');
  const search = url.searchParams.get("search");
  if (search !== null) {
    if (search === "" || utf8Length(search) > MAX_FILE_NAME_BYTES) throw badRequest("search must be 1 to 1024 bytes of a name.");
    if (delimiter !== null) throw badRequest("search scans every name under the prefix; it takes no delimiter.");
    return json((await folderStore(env).search(prefix, search, cursor, limit)) satisfies SearchPage);
  }
  return json((await fileStore(env).list(prefix, cursor, limit, delimiter ?? undefined)) satisfies FilePage);
}

/** A client's `X-Content-SHA256`, lower-cased, or undefined; malformed is a 400. */
export function claimedSha256(headers: Headers): string | undefined {
  const value = headers.get("x-content-sha256");
  if (value === null) return undefined;
  const hex = value.trim().toLowerCase();
  if (!SHA256_HEX.test(hex)) throw badRequest("X-Content-SHA256 must be 64 hex digits.");
  return hex;
}

/** A peer name as replication sends it in `X-Edgepeer-Origin`; anything else is ignored. */
export function originOf(headers: Headers): string | undefined {
  const value = headers.get("x-edgepeer-origin")?.trim();
  return value && PEER_NAME.test(value) ? value : undefined;
}

const PEER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `PUT /api/files/{name}` — streams the body into R2. */
export async function putFile(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const name = fileNameOf(request);
  const length = contentLength(request);
  if (length > MAX_SINGLE_PUT) {
    throw new HttpError("payload_too_large", "A single PUT takes at most 5 GiB; use a multipart upload (POST /api/uploads).");
  }
  const sha256 = claimedSha256(request.headers);
  const contentType = checkContentType(request.headers.get("content-type"));
  const onlyIfAbsent = request.headers.get("if-none-match")?.trim() === "*";
  const files = fileStore(env);
  if (onlyIfAbsent && (await files.head(name))) {
    throw new HttpError("precondition_failed", `A file named "${name}" already exists (If-None-Match: *).`);
  }
  const meta = await changeFiles(
    env,
    files,
    // The answer need not wait for the commit (the reservation holds the room meanwhile).
    { names: [name], bytes: length, defer: (settling) => ctx.waitUntil(settling) },
    async ([previous]) => {
      const body = watchedBody(request, length);
      try {
        return await files.put(name, body.stream, {
          length,
          sha256,
          contentType,
          onlyIfAbsent,
          previous,
        });
      } catch (err) {
        if (!(err instanceof HttpError) && (await body.brokenOff())) throw bodyBrokenOff(length);
        throw err;
      }
    },
    (stored) => stored.size,
  );
  return json({ name: meta.name, size: meta.size, etag: meta.etag, sha256: meta.sha256 } satisfies StoredFile, 201);
}

const changed = () => new HttpError("gone", "The file changed or was deleted since this link was made.");

/**
 * `GET` and `HEAD /api/files/{name}` — Range, If-None-Match, If-Range. Through a share link,
 * only the version the link was made for is served: any other is 410.
 */
export function getFile(request: IRequest, env: PeerEnv): Promise<Response> {
  return serveFile(request, env, fileNameOf(request));
}

/** A file's bytes (or, for HEAD, its headers) as GET answers them: Range, If-None-Match, If-Range. WebDAV's GET too. */
export async function serveFile(request: Request, env: PeerEnv, name: string): Promise<Response> {
  const files = fileStore(env);
  const rangeHeader = request.headers.get("range");
  const ifNoneMatch = request.headers.get("if-none-match");
  const head = request.method === "HEAD";
  const principal = principalOf(request);
  const pinned = principal.kind === "link" ? principal.etag : undefined;

  // A plain GET is one R2 read; conditions and ranges need the size and etag first.
  if (!head && rangeHeader === null && ifNoneMatch === null) {
    const found = await readPinned(() => files.get(name, undefined, pinned), pinned);
    if (!found) throw pinned ? changed() : notFound(`No file "${name}".`);
    return fileResponse(found.object, found.sha256, found.object.body, 200, request);
  }

  const found = await files.head(name);
  if (!found || (pinned && found.object.etag !== pinned)) throw pinned ? changed() : notFound(`No file "${name}".`);
  const { object, sha256 } = found;
  if (etagMatches(ifNoneMatch, object.httpEtag)) {
    const headers = new Headers({ etag: object.httpEtag });
    if (sha256) headers.set("x-content-sha256", sha256);
    return new Response(null, { status: 304, headers });
  }
  const range = rangeOf(request.headers, object);
  if (head) return fileResponse(object, sha256, null, range ? 206 : 200, request, range);

  const read = await readPinned(() => files.get(name, range ?? undefined, object.etag), pinned);
  if (!read) throw pinned ? changed() : notFound(`No file "${name}".`);
  return fileResponse(object, sha256, read.object.body, range ? 206 : 200, request, range);
}

/** A read pinned to a share link's version: a version that changed meanwhile is 410, not 412. */
async function readPinned<T>(read: () => Promise<T>, pinned: string | undefined): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (pinned && err instanceof HttpError && err.code === "precondition_failed") throw changed();
    throw err;
  }
}

function fileResponse(
  object: R2Object,
  sha256: string | null,
  body: ReadableStream | null,
  status: 200 | 206,
  request: Request,
  range?: { offset: number; length: number } | null,
): Response {
  const headers = new Headers({
    "content-type": servableContentType(object.httpMetadata?.contentType),
    etag: object.httpEtag,
    "last-modified": object.uploaded.toUTCString(),
    "accept-ranges": "bytes",
    "cache-control": "private, no-cache",
    // Files are user content served from the peer's own origin: never let one run as a page.
    "content-security-policy": "default-src 'none'; sandbox",
  });
  if (sha256) headers.set("x-content-sha256", sha256);
  const origin = object.customMetadata?.origin;
  if (origin) headers.set("x-edgepeer-origin", origin);
  if (range) {
    headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`);
    headers.set("content-length", String(range.length));
  } else {
    headers.set("content-length", String(object.size));
  }
  if (new URL(request.url).searchParams.has("download")) {
    const base = object.key.split("/").pop() ?? object.key;
    headers.set("content-disposition", `attachment; filename*=UTF-8''${encodeURIComponent(base)}`);
  }
  // The runtime would gzip text for a client that accepts it, dropping Content-Length and
  // the byte identity a checksum needs: file bytes always travel as stored.
  headers.set("content-encoding", "identity");
  return new Response(body, { status, headers });
}

/**
 * `DELETE /api/files/{name}`. With `X-Content-SHA256` the file is deleted only if it is that
 * version (412 otherwise); `X-Edgepeer-Origin` names the peer that replicated the delete here.
 */
export async function deleteFile(request: IRequest, env: PeerEnv): Promise<Response> {
  const name = fileNameOf(request);
  const ifSha256 = claimedSha256(request.headers);
  const origin = originOf(request.headers);
  const files = fileStore(env);
  const deleted = await changeFiles(
    env,
    files,
    { names: [name], bytes: 0 },
    () => files.delete(name, { ifSha256, origin }),
    () => 0,
  );
  if (!deleted) throw notFound(`No file "${name}".`);
  return noContent();
}
