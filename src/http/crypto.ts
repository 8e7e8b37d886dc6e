const encoder = new TextEncoder();

/** Lower-case hex of bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

/** SHA-256 of a string, as hex. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Digests of the peer's own secret, per isolate: it is the same on every request. */
const secretDigests = new Map<string, Promise<ArrayBuffer>>();

/**
 * Compares a presented secret `a` with the peer's secret `b` in constant time: both are
 * hashed first, so neither their contents nor their lengths change how long the comparison
 * takes. `b`'s digest is computed once per isolate (a digest per request was ~10% of a
 * memory GET's worker time, bench/profile.ts).
 */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  let hb = secretDigests.get(b);
  if (!hb) {
    if (secretDigests.size >= 8) secretDigests.clear();
    hb = crypto.subtle.digest("SHA-256", encoder.encode(b));
    secretDigests.set(b, hb);
  }
  const [ha, hbDigest] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), hb]);
  return crypto.subtle.timingSafeEqual(ha, hbDigest);
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** HMAC-SHA-256 key for `purpose`, derived from the peer token (HKDF), cached per isolate. */
export function derivedKey(token: string, purpose: string): Promise<CryptoKey> {
  const id = `${purpose}\u0000${token}`;
  let key = hmacKeys.get(id);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(token), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(purpose) },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    hmacKeys.set(id, key);
  }
  return key;
}

/** HMAC-SHA-256 of `message` under `key`, as hex. */
export async function hmacHex(key: CryptoKey, message: string): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/** Verifies a hex HMAC in constant time (WebCrypto's verify). */
export async function hmacVerify(key: CryptoKey, message: string, hex: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const sig = new Uint8Array(32);
  for (let i = 0; i < 32; i++) sig[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify("HMAC", key, sig, encoder.encode(message));
}
