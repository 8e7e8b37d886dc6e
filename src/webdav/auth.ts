import type { PeerEnv } from "../env";
import { authenticate as authenticateToken } from "../http/auth";
import { HttpError } from "../http/errors";

/** What a file operation needs of the token (the contract's scope names). */
export type DavOp = "read" | "write" | "delete";

/** What a resource is, once known: a scope holds a folder by its prefix (`name/`), a file by its name. */
export type DavKind = "file" | "folder";

/** What the request's token may do. */
export interface DavAccess {
  /**
   * Throws 403 unless the token may do `op` on `name` ("" is the root folder) as a `kind`.
   * Before the kind is known (no `kind`), a name passes if it could be either: handlers check
   * again with the kind once they know it.
   */
  require(op: DavOp, name: string, kind?: DavKind): void;
}

/** A token's reach: the operations it may do, on names under `prefix` ("" for all). */
export interface DavScope {
  ops: ReadonlySet<string>;
  prefix: string;
}

/** The access of a scoped token: 403 for an operation it lacks or a name outside its prefix. */
export function scopedAccess(scope: DavScope): DavAccess {
  const within = (name: string, kind: DavKind) =>
    kind === "file" ? name.startsWith(scope.prefix) : (name === "" ? "" : `${name}/`).startsWith(scope.prefix);
  return {
    require(op, name, kind) {
      if (!scope.ops.has(op)) throw new HttpError("forbidden", `This token does not allow "${op}".`);
      const inside = kind ? within(name, kind) : within(name, "file") || within(name, "folder");
      if (!inside) throw new HttpError("forbidden", `This token may only touch names under "${scope.prefix}".`);
    },
  };
}

/** The realm every WebDAV client sees in its password prompt. */
export const CHALLENGE = { "www-authenticate": 'Basic realm="edgepeer", charset="UTF-8"' };

const everything: DavAccess = { require() {} };

/**
 * The token a WebDAV client sent: `Basic` with any user name and the token as the password
 * (what Finder, Explorer, davfs2 and Cyberduck can send), or `Bearer`. Null when none.
 */
export function presentedToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]?.trim() ?? null;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return null;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(basic[1] ?? ""), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * Authenticates a /dav/ request: 401 with a Basic challenge (so every client prompts) when no
 * token or a wrong, expired or revoked one is sent. The peer token may do everything; a
 * scoped token (src/access/tokens.ts) its operations on names under its prefix, as the API's
 * one guard allows them (`scopedAccess`, with the same rule as src/access/scope.ts).
 */
export async function authenticate(request: Request, env: PeerEnv): Promise<DavAccess> {
  if (env.AUTH === "none") return everything;
  const token = env.PEER_TOKEN;
  if (!token) {
    throw new HttpError("unauthorized", "This peer has no PEER_TOKEN: set one with `wrangler secret put PEER_TOKEN`.");
  }
  const presented = presentedToken(request);
  if (presented === null) {
    throw new HttpError("unauthorized", "Sign in with any user name and a token of this peer as the password.", CHALLENGE);
  }
  let principal: Awaited<ReturnType<typeof authenticateToken>>;
  try {
    principal = await authenticateToken(env, presented);
  } catch (err) {
    if (err instanceof HttpError && err.code === "unauthorized") throw new HttpError("unauthorized", err.message, CHALLENGE);
    throw err;
  }
  if (principal.kind === "peer") return everything;
  if (principal.kind !== "token") throw new HttpError("forbidden", "A share link does not open WebDAV.");
  return scopedAccess({ ops: principal.ops, prefix: principal.prefix });
}
