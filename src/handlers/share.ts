import type { IRequest } from "itty-router";
import { z } from "zod";
import { hashPassword } from "../access/passwords";
import { newAccessId } from "../access/ids";
import { isEtag, isMd5Etag } from "../api/etags";
import { accessRegistry } from "../access/registry";
import { knownPeers, publicUrl } from "../config";
import type { FileMeta, ShareLink } from "../api/types";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import { json } from "../http/json";
import { servableContentType } from "../http/mediaType";
import { signShareLink } from "../http/shareLinks";
import { changeFiles } from "../storage/quota";
import type { FileStore } from "../storage/files";
import { claimedSha256, fileNameOf, fileStore, originOf } from "./files";

const DEFAULT_TTL = 3600;
const MAX_TTL = 604800;

const shareBody = z.object({
  ttl: z.number().int().min(1).max(MAX_TTL).default(DEFAULT_TTL),
  password: z.string().min(1).max(1024).optional(),
  maxDownloads: z.number().int().min(1).max(1_000_000_000).optional(),
});
const pullBody = z.object({ from: z.string().min(1) });

/**
 * `POST /api/files/{name}/share` `{"ttl"?, "password"?, "maxDownloads"?}` — a signed GET link
 * to the file's current version that needs no token until it expires. The link is recorded
 * in the access registry (version, password hash, download cap), where it can be revoked.
 */
export async function shareFile(request: IRequest, env: PeerEnv): Promise<Response> {
  const name = fileNameOf(request);
  const body = await readJson(request, shareBody);
  const found = await fileStore(env).head(name);
  if (!found) throw notFound(`No file "${name}".`);
  const now = Math.floor(Date.now() / 1000);
  const expires = now + body.ttl;
  const id = newAccessId();
  const added = await accessRegistry(env).addShare({
    id,
    name,
    version: found.object.version,
    etag: found.object.etag,
    expires,
    maxDownloads: body.maxDownloads ?? null,
    downloads: 0,
    password: body.password === undefined ? null : await hashPassword(body.password),
    created: now,
  });
  if (!added) throw new HttpError("conflict", "This peer holds as many share links as it keeps; revoke some first.");
  // The guard has already refused a peer without a token, unless AUTH = "none".
  const url = await signShareLink(env.PEER_TOKEN ?? "", env.PEER_NAME, publicUrl(env, request), name, expires, { id });
  return json({ url, expires: new Date(expires * 1000).toISOString(), id } satisfies ShareLink);
}

/**
 * `POST /api/files/{name}/pull` with `{"from": signed link}` — fetches another peer's
 * signed link and streams it into this bucket, verifying the bytes against what the source
 * reports: its ETag when that is an MD5 (a single-part file — free, as R2 computes an MD5 of
 * every put), else its SHA-256. Only known peers are fetched and redirects are not followed,
 * so this is no open proxy.
 */
export async function pullFile(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const name = fileNameOf(request);
  const { from } = await readJson(request, pullBody);
  // The single pull answers any refusal of the source as 502 (its contract since before `gone`).
  const fetched = await fetchLink(env, from).catch((err: unknown) => {
    throw err instanceof HttpError && err.code === "gone" ? upstream(err.message) : err;
  });
  const files = fileStore(env);
  try {
    const meta = await changeFiles(
      env,
      files,
      // The commit settles after the answer, the name held until it lands (as a PUT's).
      { names: [name], bytes: fetched.length, defer: (settling) => ctx.waitUntil(settling) },
      ([previous]) => storePulled(files, name, fetched, { previous }),
      (stored) => stored.size,
    );
    return json(meta satisfies FileMeta, 201);
  } finally {
    await fetched.discard();
  }
}

/** A known peer's answer to a signed link, checked and ready to be stored. */
export interface FetchedLink {
  /** The peer that answered (from PEERS). */
  source: string;
  response: Response;
  body: ReadableStream<Uint8Array>;
  length: number;
  /** The SHA-256 the source reports, if any. */
  sha256: string | undefined;
  /** Cancels the body if nothing read it (a refusal before the first byte): call when done. */
  discard: () => Promise<void>;
}

/**
 * Fetches `from`, a signed file link of a peer in PEERS, without following redirects: the
 * answer must be a 200 with a Content-Length (else `upstream_failed`; a source's 410 — the file
 * changed since the link was made — is `gone`).
 */
export async function fetchLink(env: PeerEnv, from: string, signal?: AbortSignal): Promise<FetchedLink> {
  const link = URL.canParse(from) ? new URL(from) : null;
  if (!link || (link.protocol !== "https:" && link.protocol !== "http:")) throw badRequest('"from" must be an http(s) URL.');
  const source = knownPeers(env).find((p) => new URL(p.url).origin === link.origin);
  if (!source) throw new HttpError("forbidden", `${link.origin} is not a known peer: pull only fetches from the peers in PEERS.`);
  if (!link.pathname.startsWith("/api/files/")) throw badRequest('"from" must be a file link made by `share`.');

  let response: Response;
  try {
    response = await fetch(link, { redirect: "manual", signal });
  } catch {
    throw upstream(`Could not reach ${source.name}.`);
  }
  if (response.status === 410) throw new HttpError("gone", await describeFailure(source.name, response));
  if (response.status !== 200) throw upstream(await describeFailure(source.name, response));

  const length = Number(response.headers.get("content-length"));
  const body = response.body;
  if (!body || !Number.isSafeInteger(length)) {
    await body?.cancel().catch(() => {});
    throw upstream(`${source.name} sent no Content-Length, so the file cannot be verified as complete.`);
  }
  let sha256: string | undefined;
  try {
    sha256 = claimedSha256(response.headers);
  } catch {
    await body.cancel().catch(() => {});
    throw upstream(`${source.name} sent a malformed X-Content-SHA256.`);
  }
  const discard = async () => {
    if (!body.locked) await body.cancel().catch(() => {});
  };
  return { source: source.name, response, body, length, sha256, discard };
}

/**
 * Streams a fetched link into `name`, verified: by the source's MD5 ETag (single-part) or its
 * SHA-256 (or `expectedSha256`, when the source reports none). Call inside `changeFiles`. A
 * mismatch or a break stores nothing (`upstream_failed`; `checksum_mismatch` when the digest
 * that failed was `expectedSha256`).
 */
export async function storePulled(
  files: FileStore,
  name: string,
  fetched: FetchedLink,
  options: { expectedSha256?: string; previous?: R2Object | null } = {},
): Promise<FileMeta> {
  const { expectedSha256, previous } = options;
  const { response, length, source } = fetched;
  // A SHA-256 the source does not vouch for is checked by R2 itself, not taken on the MD5's word.
  const unvouched = fetched.sha256 === undefined && expectedSha256 !== undefined;
  try {
    return await files.put(name, fetched.body.pipeThrough(new FixedLengthStream(length)), {
      length,
      sha256: fetched.sha256 ?? expectedSha256,
      md5: unvouched ? undefined : md5Etag(response.headers),
      // The head the quota read while holding the name: the store need not read it again.
      previous,
      // The source's type, if it is one a file may have (an older peer may serve anything).
      contentType: servableContentType(response.headers.get("content-type") ?? undefined),
      // A replica remembers where it came from (the source's own origin when it is a replica
      // itself), so replication never sends it back there.
      origin: originOf(response.headers) ?? source,
      // Which version of the source this is a copy of: replication compares it when no SHA-256 can.
      sourceEtag: etagOf(response.headers),
    });
  } catch (err) {
    if (err instanceof HttpError && err.code === "checksum_mismatch") {
      // The SHA-256 checked was the caller's, not the source's: the caller's expectation is what failed.
      if (unvouched) {
        throw new HttpError(
          "checksum_mismatch",
          `The bytes from ${source} do not match the SHA-256 ${expectedSha256} expected (${source} reports none); nothing was stored.`,
        );
      }
      throw upstream(`The bytes from ${source} do not match the SHA-256 reported for them; nothing was stored.`);
    }
    if (err instanceof HttpError) throw err;
    throw upstream(`The transfer from ${source} broke off; nothing was stored.`);
  }
}

/** The R2 etag in a strong ETag header (`"<32 hex>"` or `"<32 hex>-<parts>"`), else undefined. */
function etagOf(headers: Headers): string | undefined {
  const etag = /^"([^"]*)"$/.exec(headers.get("etag") ?? "")?.[1];
  return etag !== undefined && isEtag(etag) ? etag : undefined;
}

/** The MD5 in a strong ETag of a single-part R2 object (`"<32 hex>"`), else undefined. */
function md5Etag(headers: Headers): string | undefined {
  const etag = etagOf(headers);
  return etag !== undefined && isMd5Etag(etag) ? etag : undefined;
}

const upstream = (message: string) => new HttpError("upstream_failed", message);

async function describeFailure(peer: string, response: Response): Promise<string> {
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    return `${peer} answered with a redirect (${response.status}); redirects are not followed.`;
  }
  let detail = "";
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    detail = body.error?.message ? `: ${body.error.message}` : "";
  } catch {
    // Not the contract's error shape; the status says enough.
  }
  return `${peer} answered ${response.status}${detail}`;
}
