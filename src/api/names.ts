/**
 * The contract's rules for names (docs/api.md "File names", "Memory keys"), as pure functions
 * that say what is wrong with a name, or null when it is fine. The client checks every name
 * before it builds a URL from it, so a name can never become another route; the peer checks
 * the same rules on the way in.
 */

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Bidirectional overrides and isolates: they make a name look like another.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;

export const MAX_FILE_NAME_BYTES = 1024;
export const MAX_MEMORY_KEY_BYTES = 480;

/** Byte length of a string as UTF-8. */
export const utf8Length = (s: string) => encoder.encode(s).byteLength;

/** What is wrong with the characters of any name, whole or a prefix of one. */
function characterProblem(s: string, what: string, maxBytes: number): string | null {
  if (!s.isWellFormed()) return `The ${what} is not valid UTF-8 (a lone surrogate).`;
  if (utf8Length(s.normalize("NFC")) > maxBytes) return `The ${what} is longer than ${maxBytes} bytes.`;
  if (CONTROL.test(s)) return `The ${what} contains a control character.`;
  return null;
}

/** What is wrong with a file name's path shape; `segments` are the complete ones. */
function pathProblem(s: string, segments: string[], what: string): string | null {
  const problem = characterProblem(s, what, MAX_FILE_NAME_BYTES);
  if (problem) return problem;
  if (s.includes("\\")) return `The ${what} contains a backslash.`;
  if (BIDI.test(s)) return `The ${what} contains a bidirectional-override character.`;
  if (s.startsWith("/")) return `The ${what} starts with '/'.`;
  if (segments.some((seg) => seg === "." || seg === "..")) return `The ${what} has a '.' or '..' segment.`;
  if (segments.some((seg) => seg === "")) return `The ${what} has an empty segment ('//').`;
  return null;
}

/**
 * What is wrong with a file name (1–1024 bytes of UTF-8, `/` between folders; no empty,
 * `.` or `..` segment, no leading `/`, backslash, control or bidi-override character).
 */
export function fileNameProblem(name: string): string | null {
  if (name === "") return "The file name is empty.";
  return pathProblem(name, name.split("/"), "file name");
}

/** What is wrong with a folder path: a file name, with or without its trailing `/`. */
export function folderPathProblem(path: string): string | null {
  const bare = path.endsWith("/") ? path.slice(0, -1) : path;
  if (bare === "") return "The folder path is empty.";
  return pathProblem(path, bare.split("/"), "folder path");
}

/** What is wrong with a prefix of file names: "" is every file; its complete segments follow the name rules. */
export function filePrefixProblem(prefix: string): string | null {
  if (prefix === "") return null;
  // The part after the last `/` may be the start of any segment (".", for ".profile").
  return pathProblem(prefix, prefix.split("/").slice(0, -1), "prefix");
}

/** What is wrong with a memory key (1–480 bytes of UTF-8, no control characters). */
export function memoryKeyProblem(key: string): string | null {
  if (key === "") return "The memory key is empty.";
  const problem = characterProblem(key, "memory key", MAX_MEMORY_KEY_BYTES);
  if (problem) return problem;
  // A URL path treats `.`, `..` (and `%2e%2e`) as moves, so these two keys cannot be sent.
  if (key === "." || key === "..") return `The memory key "${key}" cannot be sent in a URL path.`;
  return null;
}

/** What is wrong with a prefix of memory keys ("" is every key). */
export function memoryPrefixProblem(prefix: string): string | null {
  return prefix === "" ? null : characterProblem(prefix, "memory prefix", MAX_MEMORY_KEY_BYTES);
}

/**
 * What is wrong with an id the peer made (task, upload, token, share, rule): one path
 * segment of printable characters, never `/`, `.` or `..`.
 */
export function idProblem(id: string, what = "id"): string | null {
  if (id === "") return `The ${what} is empty.`;
  if (id.length > 1024) return `The ${what} is longer than 1024 characters.`;
  if (!id.isWellFormed() || CONTROL.test(id)) return `The ${what} contains a control character or a lone surrogate.`;
  if (id.includes("/") || id.includes("\\")) return `The ${what} contains a slash.`;
  if (id === "." || id === "..") return `The ${what} "${id}" cannot be sent in a URL path.`;
  return null;
}
