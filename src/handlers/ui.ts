import type { IRequest } from "itty-router";
import { knownPeers } from "../config";
import type { PeerEnv } from "../env";
import { notFound } from "../http/errors";
import { etagMatches } from "../http/range";
import { UI_ASSETS, type UiAsset } from "../ui/generated/assets";

/**
 * The page's Content-Security-Policy: only this origin's script and style (no inline, no
 * eval, Trusted Types for every DOM sink), previews of this peer's own files (images, media,
 * PDF frames), and network calls only to this peer and the
 * peers it knows (health checks and "send to peer" ask them directly).
 */
export function uiContentSecurityPolicy(env: PeerEnv): string {
  const peers = [...new Set(knownPeers(env).map((p) => new URL(p.url).origin))];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    // Previews: signed file links of this origin, each served with `default-src 'none'; sandbox`.
    "media-src 'self'",
    "frame-src 'self'",
    `connect-src ${["'self'", ...peers].join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
}

/** `GET /` — the web UI shell. Public: the page itself asks for the token. */
export function uiShell(request: IRequest, env: PeerEnv): Response {
  const asset = UI_ASSETS["index.html"];
  if (!asset) throw notFound("This build has no web UI; run `npm run build:ui`.");
  return assetResponse(request, asset, {
    "content-security-policy": uiContentSecurityPolicy(env),
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
  });
}

/** `GET /assets/{file}` — the UI's script, style and icon, revalidated by ETag. */
export function uiAsset(request: IRequest): Response {
  const file = String(request.params.file ?? "");
  const asset = file === "index.html" ? undefined : UI_ASSETS[file];
  if (!asset) throw notFound(`No UI asset "${file}".`);
  return assetResponse(request, asset, {});
}

function assetResponse(request: Request, asset: UiAsset, extra: Record<string, string>): Response {
  const headers = new Headers({ etag: asset.etag, "cache-control": "no-cache", ...extra });
  if (etagMatches(request.headers.get("if-none-match"), asset.etag)) return new Response(null, { status: 304, headers });
  headers.set("content-type", asset.contentType);
  return new Response(request.method === "HEAD" ? null : asset.body, { headers });
}
