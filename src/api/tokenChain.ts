/**
 * Offline narrowing of a scoped token, macaroon-style: anyone holding a token can add a caveat
 * (fewer operations, a longer prefix, an earlier expiry) without asking the peer, and nobody
 * can take one away. A token is `ept1_<scope>[~<caveat>…].<sig>`: the peer signs the scope;
 * each caveat's signature is an HMAC-SHA-256 keyed by the previous signature, so the last one
 * proves the whole chain. Shared by the peer (src/access/tokens.ts) and the client.
 */

/** What a caveat may narrow. */
export interface Caveat {
  /** Only these operations (intersected with the token's). */
  o?: string[];
  /** Only names under this prefix, which must lie inside the token's. */
  p?: string;
  /** Expires at this unix second, if earlier. */
  e?: number;
}

export const TOKEN_MARK = "ept1_";
/** Most caveats one token carries. */
export const MAX_CAVEATS = 8;

const encoder = new TextEncoder();

function toHex(bytes: ArrayBuffer): string {
  let out = "";
  for (const b of new Uint8Array(bytes)) out += b.toString(16).padStart(2, "0");
  return out;
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(hex.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** base64url of UTF-8 text. */
export function base64url(text: string): string {
  let binary = "";
  for (const b of encoder.encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The signature after one more caveat: HMAC-SHA-256 keyed by the previous signature's bytes. */
export async function chainSignature(previousHex: string, caveat: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", fromHex(previousHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(`caveat\n${caveat}`)));
}

/**
 * `token` with one more caveat, computed offline. `ttlSeconds` becomes an expiry from now.
 * Throws on a string that is not a scoped token, or past `MAX_CAVEATS`.
 */
export async function narrowToken(token: string, narrow: { ops?: string[]; prefix?: string; ttlSeconds?: number }): Promise<string> {
  const dot = token.lastIndexOf(".");
  if (!token.startsWith(TOKEN_MARK) || dot < 0 || !/^[0-9a-f]{64}$/.test(token.slice(dot + 1))) {
    throw new Error("Only a scoped token (ept1_…) can be narrowed.");
  }
  const body = token.slice(0, dot);
  if (body.split("~").length > MAX_CAVEATS) throw new Error(`A token carries at most ${MAX_CAVEATS} caveats.`);
  const caveat: Caveat = {};
  if (narrow.ops) caveat.o = narrow.ops;
  if (narrow.prefix !== undefined) caveat.p = narrow.prefix.normalize("NFC");
  if (narrow.ttlSeconds !== undefined) caveat.e = Math.floor(Date.now() / 1000) + narrow.ttlSeconds;
  const text = base64url(JSON.stringify(caveat));
  return `${body}~${text}.${await chainSignature(token.slice(dot + 1), text)}`;
}
