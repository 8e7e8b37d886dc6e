import type { IRequest } from "itty-router";
import type { PeerEnv } from "../env";
import { secretsEqual } from "./crypto";
import { HttpError } from "./errors";
import { decodeParam } from "./paths";
import { verifyShareLink } from "./shareLinks";

const FILE_ROUTE = /^\/api\/files\/(.+)$/;

/**
 * Router `before` stage. Public: the UI shell (anything outside /api/), `GET /api/health`,
 * and file GET/HEAD with a valid signed link. Everything else needs `Bearer PEER_TOKEN`.
 */
export async function withAuth(request: IRequest, env: PeerEnv): Promise<undefined> {
  const { pathname, searchParams } = new URL(request.url);
  if (!pathname.startsWith("/api/") || pathname === "/api/health" || request.method === "OPTIONS") return;
  if (env.AUTH === "none") return;

  const token = env.PEER_TOKEN;
  if (!token) {
    throw new HttpError(
      "unauthorized",
      'This peer has no PEER_TOKEN: set one with `wrangler secret put PEER_TOKEN` (or in .dev.vars locally), or set AUTH = "none" on purpose.',
    );
  }

  // A signed link stands in for the token only when no token is sent: a bearer request
  // with a stray `sig` is judged by its token.
  const header = request.headers.get("authorization");
  const file = FILE_ROUTE.exec(pathname);
  if (file && header === null && searchParams.has("sig")) {
    await verifyShareLink(token, env.PEER_NAME, request.method, decodeParam(file[1], "file name"), searchParams);
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
}
