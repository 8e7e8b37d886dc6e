import { badRequest } from "./errors";

/** What a file is served as when it was stored without a (valid) type. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Longest media type kept with a file. */
export const MAX_CONTENT_TYPE = 256;

// RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ),
// ASCII only (a header value past U+00FF cannot be sent back).
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*$`);

/**
 * A media type a client gives a file (`Content-Type` on PUT, `contentType` of a multipart
 * upload, WebDAV PUT): returned without surrounding spaces, undefined when absent or empty
 * (the file gets `application/octet-stream`). Anything else — CR, LF, NUL, non-ASCII, no
 * `type/subtype`, over 256 bytes — is a 400: stored, it would break every later GET.
 */
export function checkContentType(value: string | null | undefined, what = "Content-Type"): string | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, "");
  if (trimmed === "") return undefined;
  if (trimmed.length > MAX_CONTENT_TYPE) throw badRequest(`${what} is longer than ${MAX_CONTENT_TYPE} characters.`);
  if (!MEDIA_TYPE.test(trimmed)) throw badRequest(`${what} is not a valid media type (type/subtype, then ;-separated parameters).`);
  return trimmed;
}

/** A stored file's type as it can be served: one stored before types were checked may be anything. */
export function servableContentType(stored: string | undefined): string {
  if (stored === undefined || stored.length > MAX_CONTENT_TYPE) return DEFAULT_CONTENT_TYPE;
  return MEDIA_TYPE.test(stored) ? stored : DEFAULT_CONTENT_TYPE;
}
