import type { PeerEnv } from "../env";
import { authorize, authorizePrefix, inside } from "../access/scope";
import type { TokenPrincipal } from "../access/tokens";
import { authenticate as authenticateToken, basicPassword } from "../http/auth";
import { HttpError } from "../http/errors";
import { markAuthenticated } from "../http/unreadBody";

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

/**
 * The access of a scoped token: the API's one rule (`authorize`, src/access/scope.ts), a file
 * by its name, a folder by its prefix (`name/`); 403 for an operation it lacks or a name outside.
 */
export function scopedAccess(scope: Pick<TokenPrincipal, "ops" | "prefix">): DavAccess {
  const principal: TokenPrincipal = { kind: "token", id: "", expires: null, ...scope };
  const asFolder = (name: string) => (name === "" ? "" : `${name}/`);
  return {
    require(op, name, kind) {
      // Before the kind is known, a name inside as a file passes; else it must be inside as a folder.
      const file = kind === "file" || (kind === undefined && inside(principal.prefix, name, "name"));
      if (file) authorize(principal, op, name);
      else authorizePrefix(principal, op, asFolder(name));
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
  return basicPassword(header);
}

/**
 * Authenticates a /dav/ request: 401 with a Basic challenge (so every client prompts) when no
 * token or a wrong, expired or revoked one is sent. The peer token may do everything; a
 * scoped token (src/access/tokens.ts) its operations on names under its prefix, as the API's
 * one guard allows them (`scopedAccess`: the same `authorize`).
 */
export async function authenticate(request: Request, env: PeerEnv): Promise<DavAccess> {
  if (env.AUTH === "none") {
    markAuthenticated(request);
    return everything;
  }
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
  if (principal.kind !== "peer" && principal.kind !== "token") throw new HttpError("forbidden", "A share link does not open WebDAV.");
  markAuthenticated(request);
  if (principal.kind === "peer") return everything;
  return scopedAccess({ ops: principal.ops, prefix: principal.prefix });
}
