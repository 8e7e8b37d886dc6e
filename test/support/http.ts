import { SELF, env } from "cloudflare:test";
import { PEER2, TEST_TOKEN } from "./peers";

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

/** A scoped token minted by the peer under test (with the peer token): its secret. */
export async function mintToken(ops: string[], prefix: string): Promise<string> {
  const res = await call("/api/tokens", { method: "POST", body: JSON.stringify({ ops, prefix }) });
  if (res.status !== 201) throw new Error(`minting a token answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
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

/** Calls the second peer (separate bindings, separate token) through its service binding. */
export function peer2(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${PEER2.token}`);
  return (env as unknown as { PEER2: Fetcher }).PEER2.fetch(`${PEER2.url}${path}`, { ...init, headers });
}

/** Bytes of every object in the bucket: what the quota counter must hold, and never let past the limit. */
export async function storedBytes(): Promise<number> {
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const page = await env.FILES.list({ cursor });
    for (const o of page.objects) bytes += o.size;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return bytes;
}
