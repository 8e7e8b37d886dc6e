import { badRequest } from "./errors";

/** `/api/files/<name>` with each segment of the name percent-encoded and the `/` kept. */
export function filePath(name: string): string {
  return `/api/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/** Decodes a path parameter; malformed percent-encoding is a 400. */
export function decodeParam(raw: string | undefined, what: string): string {
  try {
    return decodeURIComponent(raw ?? "");
  } catch {
    throw badRequest(`The ${what} in the path is not valid percent-encoded UTF-8.`);
  }
}
