import { derivedKey, hmacHex, hmacVerify } from "../http/crypto";
import { OPS, type Op, type Principal } from "./scope";

/**
 * Scoped tokens: `ept1_<payload>.<sig>`, the payload base64url JSON of the scope
 * (`{"i": id, "o": ops, "p": prefix, "e": expiry or null}`), the signature an HMAC-SHA-256 of
 * it under a key derived from PEER_TOKEN (HKDF, like share links). Verifying needs no storage;
 * rotating PEER_TOKEN changes the key and so invalidates every token. The label lives only in
 * the registry: nothing in a token is secret but its signature.
 */
export const TOKEN_MARK = "ept1_";
const PURPOSE = "edgepeer scoped-token v1";

export type TokenPrincipal = Principal & { kind: "token" };

interface Payload {
  i: string;
  o: Op[];
  p: string;
  e: number | null;
}

const encoder = new TextEncoder();

function base64url(text: string): string {
  let binary = "";
  for (const b of encoder.encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(text: string): string | null {
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

const signedMessage = (payload: string) => `scoped-token\n${payload}`;

/** A new token for `scope`, signed with the key derived from `peerToken`. */
export async function signToken(
  peerToken: string,
  scope: { id: string; ops: readonly Op[]; prefix: string; expires: number | null },
): Promise<string> {
  const payload = base64url(JSON.stringify({ i: scope.id, o: [...scope.ops], p: scope.prefix, e: scope.expires } satisfies Payload));
  const sig = await hmacHex(await derivedKey(peerToken, PURPOSE), signedMessage(payload));
  return `${TOKEN_MARK}${payload}.${sig}`;
}

function principalOf(payloadText: string): TokenPrincipal | null {
  const json = unbase64url(payloadText);
  if (json === null) return null;
  let p: Partial<Payload>;
  try {
    p = JSON.parse(json) as Partial<Payload>;
  } catch {
    return null;
  }
  if (typeof p.i !== "string" || typeof p.p !== "string" || !Array.isArray(p.o)) return null;
  if (!p.o.every((op) => (OPS as readonly string[]).includes(op))) return null;
  if (p.e !== null && !Number.isSafeInteger(p.e)) return null;
  return { kind: "token", id: p.i, ops: new Set(p.o), prefix: p.p, expires: p.e ?? null };
}

/** Most verified tokens remembered per isolate; the cache is dropped whole when full. */
const VERIFIED_MAX = 256;

/** Verified payload → its signature and principal, for the peer token they were checked against. */
let verified: { peerToken: string; tokens: Map<string, { sig: string; principal: TokenPrincipal }> } = {
  peerToken: "",
  tokens: new Map(),
};

function timingSafeHexEquals(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= a.charCodeAt(i % (a.length || 1)) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The principal of a scoped token whose signature is valid for `peerToken`, or null. A
 * payload seen before is looked up by the payload (public: it is the scope in clear) and its
 * signature compared in constant time — no HMAC on the hot path. Expiry and revocation are
 * the caller's to check.
 */
export function verifyToken(peerToken: string, token: string): TokenPrincipal | null | Promise<TokenPrincipal | null> {
  const dot = token.lastIndexOf(".");
  if (!token.startsWith(TOKEN_MARK) || dot < 0) return null;
  const payload = token.slice(TOKEN_MARK.length, dot);
  const sig = token.slice(dot + 1);
  if (verified.peerToken !== peerToken) verified = { peerToken, tokens: new Map() };
  const known = verified.tokens.get(payload);
  if (known) return timingSafeHexEquals(sig, known.sig) ? known.principal : null;
  return verifyFresh(peerToken, payload, sig);
}

async function verifyFresh(peerToken: string, payload: string, sig: string): Promise<TokenPrincipal | null> {
  if (!(await hmacVerify(await derivedKey(peerToken, PURPOSE), signedMessage(payload), sig))) return null;
  const principal = principalOf(payload);
  if (!principal) return null;
  if (verified.peerToken !== peerToken) verified = { peerToken, tokens: new Map() };
  if (verified.tokens.size >= VERIFIED_MAX) verified.tokens.clear();
  verified.tokens.set(payload, { sig, principal });
  return principal;
}
