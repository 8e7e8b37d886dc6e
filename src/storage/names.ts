import {
  MAX_FILE_NAME_BYTES,
  MAX_MEMORY_KEY_BYTES,
  fileNameProblem,
  filePrefixProblem,
  folderPathProblem,
  memoryKeyProblem,
  memoryPrefixProblem,
  utf8Length,
} from "../api/names";
import { badRequest } from "../http/errors";

// One set of rules (src/api/names.ts) for the client that sends a name and the peer that takes it.
export { MAX_FILE_NAME_BYTES, MAX_MEMORY_KEY_BYTES, utf8Length };

/** Throws 400 with `problem`, if there is one. */
function refuse(problem: string | null): void {
  if (problem) throw badRequest(problem);
}

/**
 * A file name as the contract allows it (API.md "File names"), normalised to NFC so that
 * `café` typed as NFD and as NFC is one file: 1–1024 bytes of UTF-8 (measured after
 * normalising), `/` between folders; no control or bidi-override character, no `.`, `..` or
 * empty segment (so no leading, trailing or doubled `/`), no backslash. Returns the NFC name
 * or throws 400. Every route that takes a name (files, uploads, share, pull, folders,
 * copy/move, WebDAV) goes through it.
 */
export function checkFileName(name: string): string {
  refuse(fileNameProblem(name));
  return name.normalize("NFC");
}

/**
 * A folder path: a file name with an optional trailing `/`, at most 1023 bytes without it.
 * Returns it in NFC, ending in `/` (the form a folder marker and a listing prefix take), or
 * throws 400.
 */
export function checkFolderPath(path: string): string {
  refuse(folderPathProblem(path));
  const nfc = path.normalize("NFC");
  const marker = nfc.endsWith("/") ? nfc : `${nfc}/`;
  // The marker is an object: with its `/` it must fit R2's 1024-byte key limit.
  if (utf8Length(marker) > MAX_FILE_NAME_BYTES)
    throw badRequest(`A folder path is at most ${MAX_FILE_NAME_BYTES - 1} bytes: its marker adds a '/'.`);
  return marker;
}

/**
 * A listing prefix (`?prefix=`): any start of a name, in NFC like the names it matches; ""
 * lists everything. Longer than a name can be, or holding what no name holds, is a 400 —
 * never a storage error.
 */
export function checkNamePrefix(prefix: string): string {
  refuse(filePrefixProblem(prefix));
  return prefix.normalize("NFC");
}

/** A memory key as the contract allows it: 1–480 bytes of UTF-8, no control characters. */
export function checkMemoryKey(key: string): string {
  refuse(memoryKeyProblem(key));
  return key;
}

/**
 * A memory listing prefix: at most as long as a key (a longer one built a KV prefix past KV's
 * 512-byte key limit: a 500), no control characters; "" lists every key. Throws 400 otherwise.
 */
export function checkMemoryPrefix(prefix: string): string {
  refuse(memoryPrefixProblem(prefix));
  return prefix;
}
