import { toHex } from "../http/crypto";
import type { PasswordHash } from "./registry";

/** PBKDF2-SHA-256 rounds: workerd's ceiling (100,000), the slowest WebCrypto allows. */
export const PBKDF2_ITERATIONS = 100_000;

const encoder = new TextEncoder();

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<ArrayBuffer> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  return crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
}

/** A salted PBKDF2 hash of `password` (16 random bytes of salt). */
export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return { salt: toHex(salt), hash: toHex(await pbkdf2(password, salt, PBKDF2_ITERATIONS)), iterations: PBKDF2_ITERATIONS };
}

/**
 * Whether `password` matches `stored`. A wrong password costs exactly what a right one
 * costs: one PBKDF2 with the stored salt and rounds, then a constant-time comparison.
 */
export async function passwordMatches(stored: PasswordHash, password: string): Promise<boolean> {
  const derived = await pbkdf2(password, fromHex(stored.salt), stored.iterations);
  return crypto.subtle.timingSafeEqual(derived, fromHex(stored.hash));
}
