import { HttpError, badRequest } from "../http/errors";
import { readText } from "../http/body";
import { type DavContext, guardWrite, ifLists } from "./context";
import { submittedTokens } from "./ifHeader";
import { hrefOf, parentName } from "./paths";
import type { DavLock } from "./state";
import { DAV, type OutElement, childElements, dav, fromParsed, parseXml, renderXml } from "./xml";

/** Longest lock granted (a week); `Infinite` and longer asks get this. */
export const MAX_LOCK_SECONDS = 7 * 24 * 3600;
/** A lock asked for without a `Timeout:` lasts an hour. */
export const DEFAULT_LOCK_SECONDS = 3600;
/** A LOCK body is small: an owner, a scope, a type. */
const LOCK_BODY_BYTES = 64 * 1024;

/** `Timeout: Second-600, Infinite` → the first usable value, within the bounds. */
export function parseTimeout(header: string | null): number {
  if (header === null) return DEFAULT_LOCK_SECONDS;
  for (const part of header.split(",")) {
    const value = part.trim();
    if (/^infinite$/i.test(value)) return MAX_LOCK_SECONDS;
    const seconds = /^second-(\d+)$/i.exec(value);
    if (seconds) return Math.max(1, Math.min(Number(seconds[1]), MAX_LOCK_SECONDS));
  }
  return DEFAULT_LOCK_SECONDS;
}

/** `DAV:activelock` of a lock, as lockdiscovery and LOCK answers show it. */
export function activeLock(lock: DavLock, folder: boolean): OutElement {
  const left = Math.max(0, Math.round((lock.expires - Date.now()) / 1000));
  return dav("activelock", [
    dav("locktype", [dav("write")]),
    dav("lockscope", [dav(lock.scope)]),
    dav("depth", [lock.depth === "0" ? "0" : "infinity"]),
    ...(lock.owner && typeof lock.owner !== "string" ? [dav("owner", lock.owner.children ?? [])] : []),
    dav("timeout", [`Second-${left}`]),
    dav("locktoken", [dav("href", [lock.token])]),
    dav("lockroot", [dav("href", [hrefOf(lock.root, folder)])]),
  ]);
}

/** `DAV:supportedlock`: exclusive and shared write locks. */
export const supportedLock = (): OutElement =>
  dav("supportedlock", [
    dav("lockentry", [dav("lockscope", [dav("exclusive")]), dav("locktype", [dav("write")])]),
    dav("lockentry", [dav("lockscope", [dav("shared")]), dav("locktype", [dav("write")])]),
  ]);

function lockAnswer(lock: DavLock, folder: boolean, status: 200 | 201): Response {
  const body = renderXml(dav("prop", [dav("lockdiscovery", [activeLock(lock, folder)])]));
  return new Response(body, {
    status,
    headers: { "content-type": "application/xml; charset=utf-8", "lock-token": `<${lock.token}>` },
  });
}

/**
 * `LOCK`: with a `DAV:lockinfo` body, a new exclusive or shared write lock (depth 0 or
 * infinity) on the resource — an unmapped name becomes an empty file, as RFC 4918 §9.10.4
 * asks; without a body, a refresh of the lock whose token the `If:` header carries.
 */
export async function lock(c: DavContext): Promise<Response> {
  c.access.require("write", c.name);
  const timeoutSeconds = parseTimeout(c.request.headers.get("timeout"));
  const text = await readText(c.request, LOCK_BODY_BYTES, "LOCK body");

  if (text.trim() === "") {
    const lists = ifLists(c.request);
    const token = lists ? submittedTokens(lists)[0] : undefined;
    if (!token) throw badRequest("A LOCK without a body refreshes a lock: send its token in an If header.");
    const refreshed = await c.state.refresh(c.name, token, timeoutSeconds);
    if (!refreshed) throw new HttpError("precondition_failed", "No lock with that token applies to this resource.");
    const entry = await c.tree.stat(refreshed.root);
    return lockAnswer(refreshed, entry?.kind === "folder", 200);
  }

  const info = parseXml(text);
  if (info.ns !== DAV || info.local !== "lockinfo") throw badRequest("A LOCK body is a DAV:lockinfo element.");
  const scopeEl = childElements(info, DAV, "lockscope")[0];
  const scope = scopeEl && childElements(scopeEl).find((e) => e.ns === DAV && (e.local === "exclusive" || e.local === "shared"))?.local;
  if (scope !== "exclusive" && scope !== "shared") throw badRequest("DAV:lockscope must be exclusive or shared.");
  const typeEl = childElements(info, DAV, "locktype")[0];
  if (!typeEl || !childElements(typeEl, DAV, "write").length) throw badRequest("Only DAV:write locks exist.");
  const ownerEl = childElements(info, DAV, "owner")[0];
  const depthHeader = c.request.headers.get("depth")?.trim().toLowerCase() ?? "infinity";
  if (depthHeader !== "0" && depthHeader !== "infinity") throw badRequest("A LOCK's Depth is 0 or infinity.");

  if (c.name === "") throw new HttpError("forbidden", "The root of /dav/ cannot be locked.");
  let entry = await c.tree.stat(c.name);
  c.access.require("write", c.name, entry?.kind ?? "file");
  let created = false;
  if (!entry) {
    if (!(await c.tree.folderExists(parentName(c.name)))) throw new HttpError("conflict", `The folder of "${c.name}" does not exist.`);
    await guardWrite(c, [{ name: c.name, membership: true }]);
    await c.tree.files.put(c.name, new Response(new Uint8Array(0)).body as ReadableStream<Uint8Array>, { length: 0 });
    entry = await c.tree.stat(c.name);
    created = true;
  }
  const folder = entry?.kind === "folder";
  const granted = await c.state.lock({
    root: c.name,
    depth: folder ? (depthHeader as "0" | "infinity") : "0",
    scope,
    owner: ownerEl ? fromParsed(ownerEl) : null,
    timeoutSeconds,
  });
  if ("conflict" in granted) throw new HttpError("locked", `"${granted.conflict || "/"}" holds a lock that conflicts with this one.`);
  if ("full" in granted) throw new HttpError("too_many_requests", "This peer holds as many WebDAV locks as it can; unlock some first.");
  return lockAnswer(granted.lock, folder, created ? 201 : 200);
}

/** `UNLOCK` with `Lock-Token: <token>`: 204, or 409 when no such lock applies here. */
export async function unlock(c: DavContext): Promise<Response> {
  c.access.require("write", c.name);
  const header = c.request.headers.get("lock-token")?.trim() ?? "";
  const token = /^<(.+)>$/.exec(header)?.[1];
  if (!token) throw badRequest("Send the lock's token as Lock-Token: <token>.");
  if (!(await c.state.unlock(c.name, token))) throw new HttpError("conflict", "No lock with that token applies to this resource.");
  return new Response(null, { status: 204 });
}
