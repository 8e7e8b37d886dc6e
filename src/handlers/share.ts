import type { IRequest } from "itty-router";
import { z } from "zod";
import { hashPassword } from "../access/passwords";
import { accessRegistry, newAccessId } from "../access/registry";
import { knownPeers, publicUrl } from "../config";
import type { FileMeta, ShareLink } from "../api/types";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { HttpError, badRequest, notFound } from "../http/errors";
import { json } from "../http/json";
import { servableContentType } from "../http/mediaType";
import { signShareLink } from "../http/shareLinks";
import { changeFiles } from "../storage/quota";
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
export async function pullFile(request: IRequest, env: PeerEnv): Promise<Response> {
  const name = fileNameOf(request);
  const { from } = await readJson(request, pullBody);
  const link = URL.canParse(from) ? new URL(from) : null;
  if (!link || (link.protocol !== "https:" && link.protocol !== "http:")) throw badRequest('"from" must be an http(s) URL.');
  const source = knownPeers(env).find((p) => new URL(p.url).origin === link.origin);
  if (!source) throw new HttpError("forbidden", `${link.origin} is not a known peer: pull only fetches from the peers in PEERS.`);
  if (!link.pathname.startsWith("/api/files/")) throw badRequest('"from" must be a file link made by `share`.');

  let response: Response;
  try {
    response = await fetch(link, { redirect: "manual" });
  } catch {
    throw upstream(`Could not reach ${source.name}.`);
  }
  if (response.status !== 200) throw upstream(await describeFailure(source.name, response));

  const length = Number(response.headers.get("content-length"));
  if (!response.body || !Number.isSafeInteger(length)) {
    throw upstream(`${source.name} sent no Content-Length, so the file cannot be verified as complete.`);
  }
  let sha256: string | undefined;
  try {
    sha256 = claimedSha256(response.headers);
  } catch {
    throw upstream(`${source.name} sent a malformed X-Content-SHA256.`);
  }

  const files = fileStore(env);
  const body = response.body;
  try {
    const meta = await changeFiles(
      env,
      files,
      { names: [name], bytes: length },
      () =>
        files.put(name, body.pipeThrough(new FixedLengthStream(length)), {
          length,
          sha256,
          md5: md5Etag(response.headers),
          // The source's type, if it is one a file may have (an older peer may serve anything).
          contentType: servableContentType(response.headers.get("content-type") ?? undefined),
          // A replica remembers where it came from (the source's own origin when it is a replica
          // itself), so replication never sends it back there.
          origin: originOf(response.headers) ?? source.name,
        }),
      (stored) => stored.size,
    );
    return json(meta satisfies FileMeta, 201);
  } catch (err) {
    // Refused before the first byte was read (the quota): nothing to wait for from the source.
    if (!body.locked) await body.cancel().catch(() => {});
    if (err instanceof HttpError && err.code === "checksum_mismatch") {
      throw upstream(`The bytes from ${source.name} do not match the SHA-256 it reported; nothing was stored.`);
    }
    if (err instanceof HttpError) throw err;
    throw upstream(`The transfer from ${source.name} broke off; nothing was stored.`);
  }
}

/** The MD5 in a strong ETag of a single-part R2 object (`"<32 hex>"`), else undefined. */
function md5Etag(headers: Headers): string | undefined {
  return /^"([0-9a-f]{32})"$/.exec(headers.get("etag") ?? "")?.[1];
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
