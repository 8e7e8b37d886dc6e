import type { IRequest } from "itty-router";
import { z } from "zod";
import { isAccessId, newAccessId } from "../access/ids";
import { TOKENS_MAX, accessRegistry } from "../access/registry";
import { OPS } from "../access/scope";
import { signToken } from "../access/tokens";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { HttpError, notFound } from "../http/errors";
import { json, noContent } from "../http/json";
import { utf8Length } from "../storage/names";

/** A token lives at most ten years: an expiry always fits a date. */
const MAX_TTL = 10 * 365 * 24 * 3600;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const tokenBody = z.object({
  ops: z.array(z.enum(OPS)).min(1).max(OPS.length),
  prefix: z
    .string()
    .refine(
      (p) => utf8Length(p) <= 1024 && !CONTROL.test(p) && p.isWellFormed(),
      "must be at most 1024 bytes of UTF-8 without control characters",
    )
    .default(""),
  ttl: z.number().int().min(1).max(MAX_TTL).optional(),
  label: z.string().max(200).default(""),
});

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

const idOf = (request: IRequest, what: string) => {
  const id = request.params.id ?? "";
  if (!isAccessId(id)) throw notFound(`No ${what} "${id.slice(0, 64)}".`);
  return id;
};

/** `POST /api/tokens` — mints a scoped token; the only answer that ever shows it. */
export async function createToken(request: IRequest, env: PeerEnv): Promise<Response> {
  const body = await readJson(request, tokenBody);
  const ops = OPS.filter((op) => body.ops.includes(op));
  const prefix = body.prefix.normalize("NFC");
  const now = Math.floor(Date.now() / 1000);
  const expires = body.ttl === undefined ? null : now + body.ttl;
  const id = newAccessId();
  const added = await accessRegistry(env).addToken({ id, ops, prefix, expires, label: body.label, created: now });
  if (!added) throw new HttpError("conflict", `This peer keeps at most ${TOKENS_MAX} tokens; revoke some first.`);
  const token = await signToken(env.PEER_TOKEN ?? "", { id, ops, prefix, expires });
  return json({ id, token, ops, prefix, expires: iso(expires), label: body.label }, 201);
}

/** `GET /api/tokens` — every live token, never its secret. */
export async function listTokens(_request: IRequest, env: PeerEnv): Promise<Response> {
  const tokens = await accessRegistry(env).listTokens();
  return json({
    tokens: tokens.map((t) => ({
      id: t.id,
      ops: t.ops,
      prefix: t.prefix,
      expires: iso(t.expires),
      label: t.label,
      created: iso(t.created),
    })),
  });
}

/** `DELETE /api/tokens/{id}` — revoked at once, on every isolate. */
export async function revokeToken(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = idOf(request, "token");
  if (!(await accessRegistry(env).revokeToken(id))) throw notFound(`No token "${id}".`);
  return noContent();
}

/** `GET /api/shares` — every live share link (never its URL or password). */
export async function listShares(_request: IRequest, env: PeerEnv): Promise<Response> {
  const shares = await accessRegistry(env).listShares();
  return json({
    shares: shares.map((s) => ({
      id: s.id,
      name: s.name,
      expires: iso(s.expires),
      downloads: s.downloads,
      maxDownloads: s.maxDownloads,
      password: s.password !== null,
    })),
  });
}

/** `DELETE /api/shares/{id}` — the link is 410 from then on. */
export async function revokeShare(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = idOf(request, "share link");
  if (!(await accessRegistry(env).revokeShare(id))) throw notFound(`No share link "${id}".`);
  return noContent();
}
