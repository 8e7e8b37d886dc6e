/**
 * The part of `node:crypto` the worker uses (the `nodejs_compat` flag, without Node globals):
 * a SHA-256 whose state lives in the isolate between requests, which WebCrypto cannot do, and
 * a synchronous HMAC (upload ids are sealed and opened without a promise).
 */
declare module "node:crypto" {
  export interface Hash {
    update(data: Uint8Array | string): Hash;
    digest(encoding: "hex"): string;
    copy(): Hash;
  }
  export interface Hmac {
    update(data: Uint8Array | string): Hmac;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha256"): Hash;
  export function createHmac(algorithm: "sha256", key: string): Hmac;
}
