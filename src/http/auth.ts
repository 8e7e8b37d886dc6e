import type { IRequest } from "itty-router";
import type { PeerEnv } from "../env";
import { secretsEqual } from "./crypto";
import { HttpError } from "./errors";
import { decodeParam } from "./paths";
import { urlOf } from "./routes";
import { verifyShareLink } from "./shareLinks";

const FILE_ROUTE = /^\/api\/files\/(.+)$/;

/** Most distinct `Authorization` headers remembered as verified (clients write "Bearer" their own way). */
const VERIFIED_MAX = 4;

/** Headers that carried the peer's token, per isolate, for the token they were checked against. */
let verified: { token: string; headers: string[] } = { token: "", headers: [] };

/**
 * Whether `presented` equals `known`, in time that depends on `known` alone: every code unit of
 * `known` is compared (against `presented`'s, indexed modulo its length) with no early exit,
 * so neither how much of `presented` matches nor how long it is changes the work done.
 */
export function constantTimeEquals(presented: string, known: string): boolean {
  const n = presented.length;
  let diff = n ^ known.length;
  for (let i = 0; i < known.length; i++) diff |= presented.charCodeAt(i % n) ^ known.charCodeAt(i);
  return diff === 0;
}

/**
 * Whether `header` is one this isolate has already verified against `token`. Each remembered
 * header is compared in constant time (never a Map lookup, whose hashing and string
 * comparison would depend on the presented header); a miss takes the full path.
 */
function alreadyVerified(header: string, token: string): boolean {
  if (verified.token !== token) verified = { token, headers: [] };
  let hit = false;
  for (const known of verified.headers) hit = constantTimeEquals(header, known) || hit;
  return hit;
}

function rememberVerified(header: string, token: string): void {
  if (verified.token !== token) verified = { token, headers: [] };
  if (verified.headers.length >= VERIFIED_MAX) verified.headers.shift();
  verified.headers.push(header);
}

/**
 * Router `before` stage. Public: the UI shell (anything outside /api/), `GET /api/health`,
 * and file GET/HEAD with a valid signed link. Everything else needs `Bearer PEER_TOKEN`.
 *
 * The token check hashes the presented token and compares digests (constant time whatever
 * its length); a header that passed is remembered, and the same header again is accepted by
 * a constant-time comparison with the remembered ones, without a digest or a promise.
 */
export function withAuth(request: IRequest, env: PeerEnv): undefined | Promise<undefined> {
  const url = urlOf(request);
  const pathname = url.pathname;
  if (!pathname.startsWith("/api/") || pathname === "/api/health" || request.method === "OPTIONS") return;
  if (env.AUTH === "none") return;

  const token = env.PEER_TOKEN;
  if (!token) {
    throw new HttpError(
      "unauthorized",
      'This peer has no PEER_TOKEN: set one with `wrangler secret put PEER_TOKEN` (or in .dev.vars locally), or set AUTH = "none" on purpose.',
    );
  }

  const header = request.headers.get("authorization");
  if (header !== null && alreadyVerified(header, token)) return;
  return checkToken(request, url, header, token, env.PEER_NAME);
}

async function checkToken(request: IRequest, url: URL, header: string | null, token: string, peer: string): Promise<undefined> {
  // A signed link stands in for the token only when no token is sent: a bearer request
  // with a stray `sig` is judged by its token.
  const file = FILE_ROUTE.exec(url.pathname);
  if (file && header === null && url.searchParams.has("sig")) {
    // Links are signed for the NFC name; the file is the same whatever the spelling of the path.
    const name = decodeParam(file[1], "file name").normalize("NFC");
    await verifyShareLink(token, peer, request.method, name, url.searchParams);
    return;
  }

  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) {
    throw new HttpError("unauthorized", "Send the peer token as `Authorization: Bearer <token>`.", {
      "www-authenticate": 'Bearer realm="edgepeer"',
    });
  }
  if (!(await secretsEqual(match[1]?.trim() ?? "", token))) {
    throw new HttpError("unauthorized", "The token is not this peer's token.", {
      "www-authenticate": 'Bearer realm="edgepeer", error="invalid_token"',
    });
  }
  rememberVerified(header as string, token);
}
