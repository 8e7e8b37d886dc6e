import { type Caveat, MAX_CAVEATS, TOKEN_MARK, base64url, chainSignature } from "../api/tokenChain";
import { derivedKey, hmacHex } from "../http/crypto";
import { OPS, type Op, type Principal } from "./scope";

/**
 * Scoped tokens: `ept1_<payload>.<sig>`, the payload base64url JSON of the scope
 * (`{"i": id, "o": ops, "p": prefix, "e": expiry or null}`), the signature an HMAC-SHA-256 of
 * it under a key derived from PEER_TOKEN (HKDF, like share links). Verifying needs no storage;
 * rotating PEER_TOKEN changes the key and so invalidates every token. The label lives only in
 * the registry: nothing in a token is secret but its signature. A holder may narrow a token
 * offline with caveats (`~<caveat>`, src/api/tokenChain.ts); the peer checks the whole chain.
 */
export { TOKEN_MARK };
const PURPOSE = "edgepeer scoped-token v1";

export type TokenPrincipal = Principal & { kind: "token" };

interface Payload {
  i: string;
  o: Op[];
  p: string;
  e: number | null;
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

function parsed<T>(text: string): Partial<T> | null {
  const json = unbase64url(text);
  if (json === null) return null;
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Partial<T>) : null;
  } catch {
    return null;
  }
}

const isOps = (ops: unknown): ops is Op[] => Array.isArray(ops) && ops.every((op) => (OPS as readonly string[]).includes(op));

/** The scope of a signed payload narrowed by its caveats, or null when any part is malformed. */
function principalOf(payloadText: string, caveats: string[]): TokenPrincipal | null {
  const p = parsed<Payload>(payloadText);
  if (!p || typeof p.i !== "string" || typeof p.p !== "string" || !isOps(p.o)) return null;
  if (p.e !== null && !Number.isSafeInteger(p.e)) return null;
  let ops = new Set(p.o);
  let prefix = p.p;
  let expires = p.e ?? null;
  for (const text of caveats) {
    const c = parsed<Caveat>(text);
    if (!c) return null;
    if (c.o !== undefined) {
      if (!isOps(c.o)) return null;
      const allowed = new Set(c.o);
      ops = new Set([...ops].filter((op) => allowed.has(op)));
    }
    if (c.p !== undefined) {
      // A caveat only narrows: a prefix outside the token's makes the token invalid.
      if (typeof c.p !== "string" || !c.p.startsWith(prefix)) return null;
      prefix = c.p;
    }
    if (c.e !== undefined) {
      if (!Number.isSafeInteger(c.e)) return null;
      expires = expires === null ? c.e : Math.min(expires, c.e);
    }
  }
  return { kind: "token", id: p.i, ops, prefix, expires };
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

async function verifyFresh(peerToken: string, body: string, sig: string): Promise<TokenPrincipal | null> {
  const [payload = "", ...caveats] = body.split("~");
  if (caveats.length > MAX_CAVEATS || !/^[0-9a-f]{64}$/.test(sig)) return null;
  let expected = await hmacHex(await derivedKey(peerToken, PURPOSE), signedMessage(payload));
  for (const caveat of caveats) expected = await chainSignature(expected, caveat);
  if (!timingSafeHexEquals(sig, expected)) return null;
  const principal = principalOf(payload, caveats);
  if (!principal) return null;
  if (verified.peerToken !== peerToken) verified = { peerToken, tokens: new Map() };
  if (verified.tokens.size >= VERIFIED_MAX) verified.tokens.clear();
  verified.tokens.set(body, { sig, principal });
  return principal;
}
