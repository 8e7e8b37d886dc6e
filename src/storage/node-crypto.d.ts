/**
 * The part of `node:crypto` the worker uses (the `nodejs_compat` flag, without Node globals):
 * a SHA-256 whose state lives in the isolate between requests, which WebCrypto cannot do.
 */
declare module "node:crypto" {
  export interface Hash {
    update(data: Uint8Array | string): Hash;
    digest(encoding: "hex"): string;
    copy(): Hash;
  }
  export function createHash(algorithm: "sha256"): Hash;
}
