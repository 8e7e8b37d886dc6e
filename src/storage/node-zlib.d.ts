/**
 * The part of `node:zlib` the worker uses (the `nodejs_compat` flag): workerd's native CRC-32,
 * for the zip writer (src/storage/zipWriter.ts) — a JavaScript CRC-32 was the zip's bottleneck.
 */
declare module "node:zlib" {
  /** CRC-32 (as zip and gzip use it) of `data`, continuing from `value`. */
  export function crc32(data: Uint8Array | string, value?: number): number;
}
