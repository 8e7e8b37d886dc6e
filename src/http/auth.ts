import type { IRequest } from "itty-router";
import { passwordMatches } from "../access/passwords";
import { isAccessId } from "../access/ids";
import { accessRegistry } from "../access/registry";
import { PEER, type Principal, type Scope, bodyReaderOf, checkNeeds } from "../access/scope";
import { TOKEN_MARK, type TokenPrincipal, verifyToken } from "../access/tokens";
import type { PeerEnv } from "../env";
import { FileStore } from "../storage/files";
import { rangeOf } from "./range";
import { secretsEqual } from "./crypto";
import { HttpError } from "./errors";
import { urlOf } from "./routes";
import { verifyShareLink } from "./shareLinks";
import { markAuthenticated } from "./unreadBody";

/** Most distinct `Authorization` headers remembered as verified (clients write "Bearer" their own way). */
const VERIFIED_MAX = 4;

/** Headers that carried the peer's token, per isolate, for the token they were checked against. */
let verified: { token: string; headers: string[] } = { token: "", headers: [] };

const PRINCIPAL = Symbol("edgepeer.principal");

/** Who the request speaks for, as the guard decided (the peer when the guard set nothing). */
export function principalOf(request: Request): Principal {
  return (request as Request & { [PRINCIPAL]?: Principal })[PRINCIPAL] ?? PEER;
}

function setPrincipal(request: Request, principal: Principal): void {
  (request as Request & { [PRINCIPAL]?: Principal })[PRINCIPAL] = principal;
}

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

const unauthorized = (message: string, error?: string) =>
  new HttpError("unauthorized", message, {
    "www-authenticate": error ? `Bearer realm="edgepeer", error="${error}"` : 'Bearer realm="edgepeer"',
  });

/**
 * The router's one guard: runs with the scope the route table declares for the matched
 * route (src/index.ts), and decides who the request speaks for and whether it may go on.
 * Handlers never check a scope themselves: what they see has passed here.
 *
 * - `public`: anyone. Everything else needs a token (401 without a valid one).
 * - The peer token may do everything. Its check hashes the presented token and compares
 *   digests (constant time whatever its length); a header that passed is remembered, and the
 *   same header again is accepted by a constant-time comparison, without a digest or a promise.
 * - A scoped token (src/access/tokens.ts) must be signed with this peer's key, unexpired and
 *   still in the registry (revocation is immediate), and every need of the route must lie
 *   within its operations and prefix, else 403.
 * - A route marked `link` (file GET/HEAD) also accepts a signed share link in place of a token.
 */
export function guard(request: IRequest, env: PeerEnv, scope: Scope): undefined | Promise<undefined> {
  if (scope.kind === "public" || request.method === "OPTIONS") return;
  if (env.AUTH === "none") {
    markAuthenticated(request);
    return;
  }
  const token = env.PEER_TOKEN;
  if (!token) {
    throw new HttpError(
      "unauthorized",
      'This peer has no PEER_TOKEN: set one with `wrangler secret put PEER_TOKEN` (or in .dev.vars locally), or set AUTH = "none" on purpose.',
    );
  }
  const header = request.headers.get("authorization");
  if (header !== null && alreadyVerified(header, token)) {
    markAuthenticated(request);
    return;
  }
  // Passed: a body the handler then refuses may be drained in full (src/http/unreadBody.ts).
  return checkRequest(request, env, scope, header, token).then(() => void markAuthenticated(request));
}

async function checkRequest(request: IRequest, env: PeerEnv, scope: Scope, header: string | null, token: string): Promise<undefined> {
  // A signed link stands in for the token only when no token is sent: a bearer request
  // with a stray `sig` is judged by its token.
  if (scope.kind === "needs" && scope.link && urlOf(request).searchParams.has("sig") && !/^Bearer\s/i.test(header ?? "")) {
    await checkShareLink(request, env, scope, header, token);
    return;
  }

  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) throw unauthorized("Send the peer token as `Authorization: Bearer <token>`.");
  const presented = match[1]?.trim() ?? "";
  if (presented.startsWith(TOKEN_MARK)) {
    const verifying = verifyToken(token, presented);
    const principal = verifying instanceof Promise ? await verifying : verifying;
    if (principal) {
      await checkScoped(request, env, scope, principal);
      return;
    }
  }
  if (!(await secretsEqual(presented, token))) throw unauthorized("The token is not valid on this peer.", "invalid_token");
  rememberVerified(header as string, token);
}

/** Authenticates any token for code outside the route table (WebDAV's Basic password): the principal, or 401. */
export async function authenticate(env: PeerEnv, presented: string): Promise<Principal> {
  if (env.AUTH === "none") return PEER;
  const token = env.PEER_TOKEN;
  if (!token) throw unauthorized("This peer has no PEER_TOKEN.");
  if (presented.startsWith(TOKEN_MARK)) {
    const principal: TokenPrincipal | null = await Promise.resolve(verifyToken(token, presented));
    if (principal) {
      await checkLive(env, principal);
      return principal;
    }
  }
  if (!(await secretsEqual(presented, token))) throw unauthorized("The token is not valid on this peer.", "invalid_token");
  return PEER;
}

async function checkLive(env: PeerEnv, principal: TokenPrincipal): Promise<void> {
  if (principal.expires !== null && principal.expires * 1000 <= Date.now()) {
    throw unauthorized("The token has expired.", "invalid_token");
  }
  if (!(await accessRegistry(env).tokenLive(principal.id))) throw unauthorized("The token was revoked.", "invalid_token");
}

const LIVE_CHECK = Symbol("edgepeer.liveCheck");
type WithLiveCheck = IRequest & { [LIVE_CHECK]?: Promise<void> };

/** Leaves `live` running for `settleAuth` to await after the handler; its rejection is heard there, never unhandled. */
function holdLiveCheck(request: IRequest, live: Promise<void>): void {
  live.catch(() => {});
  (request as WithLiveCheck)[LIVE_CHECK] = live;
}

/**
 * A scoped token's request: its liveness (expiry, then revocation in the registry) and the
 * route's needs. A GET or HEAD has no effect, so its handler may run while the registry is
 * asked — `settleAuth` holds the answer until it has replied; any other method waits here.
 * A revoked or expired token is 401 whatever the scope would have said.
 */
async function checkScoped(request: IRequest, env: PeerEnv, scope: Scope, principal: TokenPrincipal): Promise<void> {
  const live = checkLive(env, principal);
  live.catch(() => {}); // awaited below or by settleAuth; never an unhandled rejection
  try {
    if (scope.kind === "peer") throw new HttpError("forbidden", "Only the peer token may do this.");
    if (scope.kind === "needs") {
      // Read only up to the route's own limit (past it the handler would refuse it anyway),
      // and only for a live token: an expired or revoked one is 401 with its body unread.
      const readBody = bodyReaderOf(scope);
      let body: unknown;
      if (readBody) {
        await live;
        body = await readBody(request);
      }
      checkNeeds(principal, scope, request, body);
    }
  } catch (err) {
    await live;
    // A live token's body refused for its size is drained as the peer token's would be (so the
    // client reads the 413, not a reset); any other refusal keeps the unauthenticated bound.
    if (err instanceof HttpError && err.code === "payload_too_large") markAuthenticated(request);
    throw err;
  }
  setPrincipal(request, principal);
  if (request.method === "GET" || request.method === "HEAD") holdLiveCheck(request, live);
  else await live;
}

/**
 * Router stage after the handler: the liveness check a GET or HEAD left running, if any — the
 * answer goes out only once it has passed (else the 401 goes out instead).
 */
export function settleAuth(request: IRequest): Promise<void> | undefined {
  return (request as WithLiveCheck)[LIVE_CHECK];
}

async function tokenStillLive(env: PeerEnv, id: string): Promise<void> {
  if (!(await accessRegistry(env).tokenLive(id))) throw gone("The token that made this transfer link was revoked.");
}

const SHARE_REALM = 'Basic realm="edgepeer share", charset="UTF-8"';

/** The password of `Authorization: Basic` (any user name), or null: share links and WebDAV read it. */
export function basicPassword(header: string | null): string | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return null;
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    const text = new TextDecoder().decode(bytes);
    const colon = text.indexOf(":");
    return colon < 0 ? null : text.slice(colon + 1);
  } catch {
    return null;
  }
}

/**
 * Whether a GET sends the file's first byte, as the handler will answer it (`rangeOf`: no
 * range, one it ignores, an `If-Range` that fails, or one from 0): each such GET is a
 * download; a range further in resumes one.
 */
function sendsFirstByte(request: Request, object: R2Object): boolean {
  try {
    return (rangeOf(request.headers, object)?.offset ?? 0) === 0;
  } catch {
    return false; // 416: nothing is sent
  }
}

const gone = (message: string) => new HttpError("gone", message);

/**
 * A signed share link: its signature and expiry (403), then the registry — revoked (410),
 * its password (401 with a Basic challenge), the version it was made for (410 once the file
 * changed or went), and its download cap (410 past it; each GET that sends byte 0 counts).
 */
async function checkShareLink(request: IRequest, env: PeerEnv, scope: Scope & { kind: "needs" }, header: string | null, token: string) {
  const target = scope.needs[0]?.target;
  const name = target?.values(request, undefined)[0] ?? "";
  const binding = await verifyShareLink(token, env.PEER_NAME, request.method, name, urlOf(request).searchParams);
  if (!("id" in binding)) {
    // A version-bound link (replication's, sync's transfer links): no registry, the version
    // alone — checked by the handler's read itself, pinned to this ETag (410 when it differs
    // or the file went), so the link costs no R2 call of its own.
    setPrincipal(request, { kind: "link", shareId: "", etag: binding.etag });
    // Made by a scoped token: it lives only as long as the token (one registry call, run
    // while the handler reads, as a scoped GET's liveness check; the answer waits for it).
    if (binding.token) holdLiveCheck(request, tokenStillLive(env, binding.token));
    return;
  }
  const id = binding.id;
  const registry = accessRegistry(env);
  // The record and the file's head are read at once: neither depends on the other.
  const [share, current] = await Promise.all([isAccessId(id) ? registry.share(id) : null, new FileStore(env.FILES, env.KV).head(name)]);
  if (!share) throw gone("This share link was revoked.");
  if (share.password) {
    const password = basicPassword(header);
    if (password === null || !(await passwordMatches(share.password, password))) {
      throw new HttpError("unauthorized", "This share link needs its password (HTTP Basic, any user name).", {
        "www-authenticate": SHARE_REALM,
      });
    }
  }
  // The R2 version tells a re-upload of the same bytes from the original; the read is then pinned to the etag.
  if (!current || current.object.version !== share.version) throw gone("The file changed or was deleted since this link was made.");
  if (request.method === "GET" && sendsFirstByte(request, current.object) && !(await registry.claimDownload(id))) {
    throw gone("This share link has used up its downloads.");
  }
  setPrincipal(request, { kind: "link", shareId: id, etag: share.etag });
}
