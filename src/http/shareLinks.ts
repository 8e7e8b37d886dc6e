import { isAccessId } from "../access/ids";
import { derivedKey, hmacHex, hmacVerify } from "./crypto";
import { HttpError } from "./errors";
import { filePath } from "./paths";

const PURPOSE = "edgepeer share-link v2";

/**
 * What a link is bound to: a link recorded in the access registry (`id`: version, password,
 * download cap, revocation live there), or — for short-lived links such as replication's and
 * sync's — just the version (`etag`), checked without the registry; a transfer link a scoped
 * token made also names that token (`token`), so it ends when the token is revoked.
 */
export type LinkBinding = { id: string } | { etag: string; token?: string };

// Each binding's text starts with its own tag, so no `v` can pass one binding off as another.
const bindingText = (binding: LinkBinding) =>
  "id" in binding ? `id:${binding.id}` : binding.token ? `token:${binding.token}\netag:${binding.etag}` : `etag:${binding.etag}`;

/** What a share link's signature covers: method, peer, file name, expiry and its binding. */
const signedMessage = (method: string, peer: string, name: string, expires: number, binding: LinkBinding) =>
  [method, peer, name, String(expires), bindingText(binding)].join("\n");

/**
 * A GET link to `name` on this peer that needs no token until `expires` (unix seconds), bound
 * to a registry record or to one version of the file (`LinkBinding`).
 */
export async function signShareLink(
  token: string,
  peer: string,
  baseUrl: string,
  name: string,
  expires: number,
  binding: LinkBinding,
): Promise<string> {
  const key = await derivedKey(token, PURPOSE);
  const sig = await hmacHex(key, signedMessage("GET", peer, name, expires, binding));
  const bound = "id" in binding ? `id=${binding.id}` : `v=${encodeURIComponent(binding.etag)}${binding.token ? `&t=${binding.token}` : ""}`;
  return `${baseUrl}${filePath(name)}?expires=${expires}&${bound}&sig=${sig}`;
}

/**
 * Accepts a signed link for `name` and answers its binding, or throws 403. HEAD is allowed on
 * a GET link: it reads the same headers without the body.
 */
export async function verifyShareLink(
  token: string,
  peer: string,
  method: string,
  name: string,
  params: URLSearchParams,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<LinkBinding> {
  const expires = Number(params.get("expires"));
  const etag = params.get("v");
  const tokenId = params.get("t");
  const binding: LinkBinding =
    etag !== null && !params.has("id") ? (tokenId === null ? { etag } : { etag, token: tokenId }) : { id: params.get("id") ?? "" };
  const sig = params.get("sig") ?? "";
  if (method !== "GET" && method !== "HEAD") {
    throw new HttpError("forbidden", "A share link only allows GET and HEAD.");
  }
  if (!Number.isInteger(expires) || expires <= 0) {
    throw new HttpError("forbidden", "The share link has no valid expiry.");
  }
  const key = await derivedKey(token, PURPOSE);
  if (!(await hmacVerify(key, signedMessage("GET", peer, name, expires, binding), sig))) {
    throw new HttpError("forbidden", "The share link's signature is not valid for this file.");
  }
  if (expires < nowSeconds) throw new HttpError("forbidden", "The share link has expired.");
  // Only ids this peer makes reach the registry (a signed link carries one; anything else is forged).
  if ("token" in binding && !isAccessId(binding.token ?? "")) throw new HttpError("forbidden", "The share link's token id is not valid.");
  return binding;
}
