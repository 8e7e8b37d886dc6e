import type { IRequest } from "itty-router";
import { knownPeers } from "../config";
import type { PeerEnv } from "../env";
import { HttpError } from "./errors";
import { urlOf } from "./routes";

const ALLOW_METHODS = "GET, HEAD, PUT, POST, DELETE";
const ALLOW_HEADERS = "authorization, content-type, x-content-sha256, if-none-match, if-range, range";
const EXPOSE_HEADERS = "etag, content-length, content-range, last-modified, x-content-sha256, www-authenticate";

const originsCache = new Map<string, ReadonlySet<string>>();

/**
 * Browser origins allowed to call this peer: the known peers' (`PEERS`) — so one peer's web
 * UI can ask another to pull a file or answer a health check — plus `CORS_ORIGINS` (a JSON
 * list or a comma list of origins). Auth is a bearer token, never a cookie, so CORS grants a
 * page nothing it could not do with the token anyway; the list only keeps strangers out.
 */
export function allowedOrigins(env: PeerEnv): ReadonlySet<string> {
  const cacheKey = `${env.PEERS ?? ""}\n${env.CORS_ORIGINS ?? ""}`;
  const cached = originsCache.get(cacheKey);
  if (cached) return cached;
  const origins = new Set(knownPeers(env).map((p) => new URL(p.url).origin));
  for (const entry of parseOriginList(env.CORS_ORIGINS ?? "")) {
    if (URL.canParse(entry)) origins.add(new URL(entry).origin);
  }
  originsCache.set(cacheKey, origins);
  return origins;
}

function parseOriginList(raw: string): string[] {
  const text = raw.trim();
  if (text.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.filter((o): o is string => typeof o === "string");
    } catch {
      console.error("CORS_ORIGINS is not a valid JSON list; no extra origin is allowed.");
    }
    return [];
  }
  return text
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
}

/**
 * Router `before` stage: answers CORS preflights (`OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`) for /api/ routes — 204 for an allowed origin, 403 otherwise.
 */
export function withCorsPreflight(request: IRequest, env: PeerEnv): Response | undefined {
  if (request.method !== "OPTIONS") return undefined;
  const origin = request.headers.get("origin");
  if (!origin || !request.headers.has("access-control-request-method")) return undefined;
  if (!urlOf(request).pathname.startsWith("/api/")) return undefined;
  if (!allowedOrigins(env).has(origin)) {
    throw new HttpError("forbidden", `${origin} may not call this peer from a browser (not in PEERS or CORS_ORIGINS).`, {
      vary: "Origin",
    });
  }
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "600",
      vary: "Origin",
    },
  });
}

/** Router `finally` stage: lets an allowed origin read an /api/ answer, errors included. */
export function withCorsHeaders(response: Response | undefined, request: IRequest, env: PeerEnv): Response | undefined {
  const origin = request.headers.get("origin");
  if (!response || !origin || response.headers.has("access-control-allow-origin")) return response;
  if (!urlOf(request).pathname.startsWith("/api/")) return response;
  const out = new Response(response.body, response);
  out.headers.append("vary", "Origin");
  if (allowedOrigins(env).has(origin)) {
    out.headers.set("access-control-allow-origin", origin);
    out.headers.set("access-control-expose-headers", EXPOSE_HEADERS);
  }
  return out;
}
