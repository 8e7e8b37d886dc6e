import { badRequest } from "../http/errors";

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Bidirectional embeddings, overrides and isolates: they make a name display as another.
const BIDI_OVERRIDE = /[\u202a-\u202e\u2066-\u2069]/;

/** Longest file name (R2's key limit), in bytes of UTF-8. */
export const MAX_NAME_BYTES = 1024;
/** Longest memory key, in bytes of UTF-8 (KV's 512-byte key limit less `mem:` and headroom). */
export const MAX_MEMORY_KEY_BYTES = 480;

/** Byte length of a string as UTF-8. */
export const utf8Length = (s: string) => encoder.encode(s).byteLength;

/**
 * Normalises a name-like input to NFC and refuses what no name may hold: ill-formed UTF-16,
 * more than `max` bytes (measured after normalising), control or bidi-override characters.
 */
function checkText(text: string, what: string, max: number): string {
  if (!text.isWellFormed()) throw badRequest(`The ${what} is not valid UTF-8.`);
  const nfc = text.normalize("NFC");
  if (utf8Length(nfc) > max) throw badRequest(`The ${what} is longer than ${max} bytes.`);
  if (CONTROL.test(nfc)) throw badRequest(`The ${what} contains a control character.`);
  if (BIDI_OVERRIDE.test(nfc)) throw badRequest(`The ${what} contains a bidirectional-override character.`);
  return nfc;
}

/**
 * A file name as the contract allows it (API.md "File names"), normalised to NFC so that
 * `café` typed as NFD and as NFC is one file: 1–1024 bytes of UTF-8, `/` between folders; no
 * control or bidi-override character, no `.`, `..` or empty segment (so no leading, trailing
 * or doubled `/`), no backslash. Returns the NFC name or throws 400. Every route that takes a
 * name (files, uploads, share, pull, folders, copy/move, WebDAV) goes through it.
 */
export function checkFileName(name: string): string {
  if (name === "") throw badRequest("The file name is empty.");
  const nfc = checkText(name, "file name", MAX_NAME_BYTES);
  if (nfc.includes("\\")) throw badRequest("The file name contains a backslash.");
  if (nfc.startsWith("/")) throw badRequest("The file name starts with '/'.");
  for (const segment of nfc.split("/")) {
    if (segment === "") throw badRequest("The file name has an empty segment ('//' or a trailing '/').");
    if (segment === "." || segment === "..") throw badRequest("The file name has a '.' or '..' segment.");
  }
  return nfc;
}

/**
 * A folder path: a file name with an optional trailing `/`. Returns it normalised, ending in
 * `/` (the form a folder marker and a listing prefix take), or throws 400.
 */
export function checkFolderPath(path: string): string {
  const bare = path.endsWith("/") ? path.slice(0, -1) : path;
  return `${checkFileName(bare)}/`;
}

/**
 * A listing prefix (`?prefix=`): any start of a name, normalised to NFC like the names it
 * matches; empty lists everything. Longer than a name can be, or holding what no name holds,
 * is a 400 — never a storage error.
 */
export function checkNamePrefix(prefix: string): string {
  return prefix === "" ? "" : checkText(prefix, "prefix", MAX_NAME_BYTES);
}

/** A memory key as the contract allows it: 1–480 bytes of UTF-8, no control characters. */
export function checkMemoryKey(key: string): string {
  if (key === "") throw badRequest("The memory key is empty.");
  if (!key.isWellFormed()) throw badRequest("The memory key is not valid UTF-8.");
  if (utf8Length(key) > MAX_MEMORY_KEY_BYTES) throw badRequest(`The memory key is longer than ${MAX_MEMORY_KEY_BYTES} bytes.`);
  if (CONTROL.test(key)) throw badRequest("The memory key contains a control character.");
  return key;
}

/**
 * A memory listing prefix: at most as long as a key (a longer one would build a KV prefix past
 * KV's 512-byte key limit), valid UTF-8; empty lists every key. Throws 400 otherwise.
 */
export function checkMemoryPrefix(prefix: string): string {
  if (!prefix.isWellFormed()) throw badRequest("The prefix is not valid UTF-8.");
  if (utf8Length(prefix) > MAX_MEMORY_KEY_BYTES)
    throw badRequest(`The prefix is longer than a memory key (${MAX_MEMORY_KEY_BYTES} bytes).`);
  return prefix;
}
