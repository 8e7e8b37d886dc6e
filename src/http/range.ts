import { HttpError } from "./errors";
import type { ByteRange } from "../storage/files";

/**
 * Parses a `Range` header against a file of `size` bytes (RFC 9110 §14). One range only:
 * a header that is malformed or asks for several ranges is ignored (the whole file is
 * sent, as the RFC allows); a well-formed range that starts past the end is a 416.
 */
export function parseRange(header: string | null, size: number): ByteRange | null {
  if (header === null) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return null;

  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw unsatisfiable(size);
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }

  const start = Number(first);
  if (last !== "" && Number(last) < start) return null;
  if (start >= size) throw unsatisfiable(size);
  const end = last === "" ? size - 1 : Number(last);
  return { offset: start, length: Math.min(end, size - 1) - start + 1 };
}

/**
 * The range a GET of `object` is answered with, as the file handler serves it: null for the
 * whole file (no `Range`, an `If-Range` that is not its ETag, or a `Range` that is ignored).
 * Share links count a download by it (src/http/auth.ts), so the two can never disagree.
 */
export function rangeOf(headers: Headers, object: { size: number; httpEtag: string }): ByteRange | null {
  const ifRange = headers.get("if-range");
  if (ifRange !== null && ifRange.trim() !== object.httpEtag) return null;
  return parseRange(headers.get("range"), object.size);
}

const unsatisfiable = (size: number) =>
  new HttpError("range_not_satisfiable", `The requested range is outside the file's ${size} bytes.`, {
    "content-range": `bytes */${size}`,
  });

/** Whether an `If-None-Match` list names `etag` (weak comparison; `*` matches any). */
export function etagMatches(header: string | null, httpEtag: string): boolean {
  if (header === null) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || bare(t) === bare(httpEtag));
}
