import { badRequest } from "../http/errors";
import { checkFileName } from "../storage/names";

/** Where WebDAV is served. */
export const DAV_PREFIX = "/dav";

/**
 * The file or folder name a /dav/ path stands for: each segment percent-decoded, the whole
 * normalised to NFC and checked as any file name is; "" for /dav/ itself. A trailing `/`
 * is dropped (folders are named without it; their marker object adds it).
 */
export function nameOfPath(pathname: string): string {
  if (pathname !== DAV_PREFIX && !pathname.startsWith(`${DAV_PREFIX}/`)) {
    throw badRequest(`${pathname} is not under ${DAV_PREFIX}/.`);
  }
  const rest = pathname.slice(DAV_PREFIX.length + 1).replace(/\/$/, "");
  if (rest === "") return "";
  let decoded: string;
  try {
    decoded = rest
      .split("/")
      .map((s) => decodeURIComponent(s))
      .join("/");
  } catch {
    throw badRequest("The path is not valid percent-encoded UTF-8.");
  }
  return checkFileName(decoded.normalize("NFC"));
}

/** The href of a name: /dav/ and each segment percent-encoded; a folder's ends in `/`. */
export function hrefOf(name: string, folder: boolean): string {
  if (name === "") return `${DAV_PREFIX}/`;
  return `${DAV_PREFIX}/${name.split("/").map(encodeURIComponent).join("/")}${folder ? "/" : ""}`;
}

/**
 * The name a `Destination` (or an `If:` resource tag) points to: an absolute URL on this
 * peer's origin or an absolute path, under /dav/. Elsewhere is a 400: this peer copies
 * only within itself.
 */
export function nameOfUrl(raw: string, request: Request): string {
  let url: URL;
  try {
    url = new URL(raw.trim(), request.url);
  } catch {
    throw badRequest(`${raw} is not a URL.`);
  }
  if (url.host !== new URL(request.url).host) {
    throw badRequest(`${raw} is on another server; WebDAV copies and moves only within this peer.`);
  }
  return nameOfPath(url.pathname);
}

/** The folder that holds `name` ("" for a top-level name). */
export const parentName = (name: string) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "");

/** The last segment of a name (its display name). */
export const baseName = (name: string) => name.slice(name.lastIndexOf("/") + 1);
