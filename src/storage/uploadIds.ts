import { createHmac } from "node:crypto";

/**
 * The upload id a client sees: `<ref>.<mac>.<R2 upload id>`. `ref` names the version the
 * upload will become (its SHA-256 record, keys.ts `fileShaKey`); `mac` binds the id to the
 * file name and to this peer (an HMAC keyed by the peer's name and token). So a wrong
 * `?name=`, a garbage id or another peer's id is known for what it is before R2 is asked —
 * R2 answers those with an internal error on `complete` and `abort`, not "no such upload".
 */

const SEALED = /^([0-9a-f]{32})\.([0-9a-f]{32})\.(.+)$/s;

/** A fresh random version ref (32 hex digits). */
export function newRef(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `ref` has the shape `newRef` gives (metadata written by something else may not). */
export const isRef = (ref: unknown): ref is string => typeof ref === "string" && /^[0-9a-f]{32}$/.test(ref);

const macOf = (secret: string, name: string, ref: string, r2Id: string) =>
  createHmac("sha256", secret).update(`edgepeer upload v1\n${name}\n${ref}\n${r2Id}`).digest("hex").slice(0, 32);

/** The id handed to the client for R2 upload `r2Id` of `name`. */
export const sealUploadId = (secret: string, name: string, ref: string, r2Id: string) => `${ref}.${macOf(secret, name, ref, r2Id)}.${r2Id}`;

/** The R2 upload id and ref inside `id` if this peer issued it for `name`, else null. */
export function openUploadId(secret: string, name: string, id: string): { ref: string; r2Id: string } | null {
  const m = SEALED.exec(id);
  if (!m) return null;
  const [, ref, mac, r2Id] = m as unknown as [string, string, string, string];
  const expected = macOf(secret, name, ref, r2Id);
  // Constant time, though the caller already holds a token: the MAC is a guard, not a secret.
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ mac.charCodeAt(i);
  return diff === 0 ? { ref, r2Id } : null;
}
