import { SELF } from "cloudflare:test";
import { TEST_TOKEN } from "./peers";

export const BASE = "http://local.test";

/** A request to the peer under test, with its token unless `token: null`. */
export function call(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = TEST_TOKEN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return SELF.fetch(`${BASE}${path}`, { ...rest, headers });
}

/** PUT bytes (or text) as a file. */
export function putFile(name: string, body: string | Uint8Array, headers: HeadersInit = {}) {
  return call(`/api/files/${name.split("/").map(encodeURIComponent).join("/")}`, { method: "PUT", body, headers });
}

/** The body of an error answer, checked to have the contract's shape. */
export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return body.error;
}

/** Hex SHA-256 of bytes or text. */
export async function sha256(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
