import { derivedKey, hmacHex, hmacVerify } from "./crypto";
import { HttpError } from "./errors";
import { filePath } from "./paths";

const PURPOSE = "edgepeer share-link v1";

/** What a share link's signature covers: method, peer, file name and expiry. */
const signedMessage = (method: string, peer: string, name: string, expires: number) => [method, peer, name, String(expires)].join("\n");

/** A GET link to `name` on this peer that needs no token until `expires` (unix seconds). */
export async function signShareLink(token: string, peer: string, baseUrl: string, name: string, expires: number): Promise<string> {
  const key = await derivedKey(token, PURPOSE);
  const sig = await hmacHex(key, signedMessage("GET", peer, name, expires));
  return `${baseUrl}${filePath(name)}?expires=${expires}&sig=${sig}`;
}

/**
 * Accepts a signed link for `name` or throws 403. HEAD is allowed on a GET link: it reads
 * the same headers without the body.
 */
export async function verifyShareLink(
  token: string,
  peer: string,
  method: string,
  name: string,
  params: URLSearchParams,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<void> {
  const expires = Number(params.get("expires"));
  const sig = params.get("sig") ?? "";
  if (method !== "GET" && method !== "HEAD") {
    throw new HttpError("forbidden", "A share link only allows GET and HEAD.");
  }
  if (!Number.isInteger(expires) || expires <= 0) {
    throw new HttpError("forbidden", "The share link has no valid expiry.");
  }
  const key = await derivedKey(token, PURPOSE);
  if (!(await hmacVerify(key, signedMessage("GET", peer, name, expires), sig))) {
    throw new HttpError("forbidden", "The share link's signature is not valid for this file.");
  }
  if (expires < nowSeconds) throw new HttpError("forbidden", "The share link has expired.");
}
