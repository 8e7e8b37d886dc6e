import type { IRequest } from "itty-router";
import { headLineOnce, jsonBodyOnce } from "../http/body";
import { HttpError, badRequest } from "../http/errors";
import { decodeParam } from "../http/paths";
import { urlOf } from "../http/routes";
import { checkFileName, checkFolderPath, checkMemoryKey } from "../storage/names";

/** What a scoped token may be allowed to do (API.md "Access: scoped tokens"). */
export const OPS = ["read", "write", "delete", "memory", "tasks"] as const;
export type Op = (typeof OPS)[number];

/** Who a request speaks for, decided once by the guard (src/http/auth.ts). */
export type Principal =
  | { kind: "peer" }
  | { kind: "token"; id: string; ops: ReadonlySet<Op>; prefix: string; expires: number | null }
  | { kind: "link"; shareId: string; etag: string };

/** The peer token's principal: everything is allowed. */
export const PEER: Principal = { kind: "peer" };

/**
 * Where a route finds the names it touches. `name` targets are one file name or memory key
 * (allowed when it starts with the token's prefix); `prefix` targets are a listing or folder
 * (allowed when the whole prefix lies inside the token's, so `photos` is outside `photos/`).
 * Targets in the body carry how it is read (`readBody`): once, within the route's own limits,
 * and the handler gets the same parse.
 */
export interface Target {
  kind: "name" | "prefix";
  /**
   * Set exactly when the names come from the body: reads it as the handler does — JSON up to the
   * route's limit (`jsonBodyOnce`), or a batch put's first line (`headLineOnce`) — and gives the parse.
   */
  readBody?: (request: Request) => Promise<unknown>;
  /** The values the handler will use, checked as the handler checks them. */
  values: (request: IRequest, body: unknown) => string[];
}

/** One thing a route needs: an operation, on the names of a target (or on nothing). */
export interface Need {
  op: Op;
  target?: Target;
}

/**
 * What a route requires, declared beside it in the route table: `public` (no token), `any`
 * (any valid token), `peer` (the peer token only) or `needs` (each need must be in the
 * token's scope). `link`: a valid signed share link may stand in for a token (file GET/HEAD).
 */
export type Scope = { kind: "public" } | { kind: "any" } | { kind: "peer" } | { kind: "needs"; needs: readonly Need[]; link?: boolean };

export const PUBLIC: Scope = { kind: "public" };
export const ANY_TOKEN: Scope = { kind: "any" };
export const PEER_ONLY: Scope = { kind: "peer" };

/** A scope that needs every one of `needs`. */
export const needs = (...list: Need[]): Scope => ({ kind: "needs", needs: list });
/**
 * A route of one file where a signed share link may stand in for a token: it serves GET and
 * HEAD, and any other method with a link is refused with 403.
 */
export const orLink = (need: Need): Scope => ({ kind: "needs", needs: [need], link: true });

export const read = (target?: Target): Need => ({ op: "read", target });
export const write = (target?: Target): Need => ({ op: "write", target });
export const remove = (target?: Target): Need => ({ op: "delete", target });
export const memory = (target?: Target): Need => ({ op: "memory", target });
export const tasks: Need = { op: "tasks" };

const param = (request: IRequest, key: string) => request.params[key];
/** Reads a JSON body of at most `bodyBytes` (the route's own limit). */
const jsonBody = (bodyBytes: number) => (request: Request) => jsonBodyOnce(request, bodyBytes);
const query = (request: IRequest, key: string) => urlOf(request).searchParams.get(key);

function field(body: unknown, key: string): unknown {
  return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;
}

function stringField(body: unknown, key: string): string {
  const value = field(body, key);
  if (typeof value !== "string") throw badRequest(`"${key}" must be a string.`);
  return value;
}

/** A folder path as a prefix: the folder's marker and everything under it. */
const asFolder = (path: string) => (path.endsWith("/") ? path : `${path}/`);

/** The file name in the path (`:name+`). */
export const fileInPath = (key = "name"): Target => ({
  kind: "name",
  values: (request) => [checkFileName(decodeParam(param(request, key), "file name"))],
});

/** The file name in the query (`?name=`, multipart). */
export const fileInQuery = (key = "name"): Target => ({
  kind: "name",
  values: (request) => {
    const name = query(request, key);
    if (name === null) throw badRequest(`Pass the file name as ?${key}=.`);
    return [checkFileName(name)];
  },
});

/** A file name in a JSON body field (`to`, `name`), in a body of at most `bodyBytes`. */
export const fileInBody = (key: string, bodyBytes: number): Target => ({
  kind: "name",
  readBody: jsonBody(bodyBytes),
  values: (_request, body) => [checkFileName(stringField(body, key))],
});

/**
 * A JSON body field that must be a list of at most `max` entries (the route's own limit): the
 * guard checks each entry, so a longer list is refused before any is.
 */
function listField(body: unknown, key: string, max: number): unknown[] {
  const list = field(body, key);
  if (!Array.isArray(list)) throw badRequest(`"${key}" must be a list.`);
  if (list.length > max) throw badRequest(`"${key}" holds at most ${max} entries.`);
  return list;
}

/** Each entry of a list field, as a string, or 400. */
function namesField(body: unknown, key: string, max: number): string[] {
  const list = listField(body, key, max);
  if (!list.every((n) => typeof n === "string")) throw badRequest(`"${key}" must be a list of names.`);
  return list as string[];
}

/** A list of at most `max` file names in a JSON body field of at most `bodyBytes` (`names` of a zip; a name ending in `/` is a folder). */
export const filesInBody = (key: string, max: number, bodyBytes: number): Target => ({
  kind: "name",
  readBody: jsonBody(bodyBytes),
  values: (_request, body) => namesField(body, key, max).map((n) => (n.endsWith("/") ? checkFolderPath(n) : checkFileName(n))),
});

/** A list of at most `max` file names (no folders) in a JSON body field. */
const fileNamesOnly = (key: string, max: number, bodyBytes: number): Target => ({
  kind: "name",
  readBody: jsonBody(bodyBytes),
  values: (_request, body) => namesField(body, key, max).map((n) => checkFileName(n)),
});

/** The file name `nameKey` of each object of the body's list `key`, of at most `max` entries. */
const nameOfEach =
  (key: string, max: number, nameKey = "name") =>
  (_request: IRequest, body: unknown): string[] =>
    listField(body, key, max).map((item: unknown) => checkFileName(stringField(item, nameKey)));

/** A file name in each object of a JSON body list of at most `max` (`items[].name` of a batch pull), in a body of at most `bodyBytes`. */
export const fileOfEachInBody = (key: string, max: number, bodyBytes: number, nameKey = "name"): Target => ({
  kind: "name",
  readBody: jsonBody(bodyBytes),
  values: nameOfEach(key, max, nameKey),
});

/**
 * A file name in each object of the list `key` of at most `max`, in a body's first line of JSON
 * of at most `lineBytes`, in a body of at most `bodyBytes` (`files[].name` of `POST /api/puts`,
 * whose files' bytes follow the line): the guard reads the line only, as the handler reads it.
 */
export const fileOfEachInHeadLine = (key: string, max: number, lineBytes: number, bodyBytes: number): Target => ({
  kind: "name",
  readBody: async (request) => (await headLineOnce(request, lineBytes, bodyBytes)).head,
  values: nameOfEach(key, max),
});

/** The files a batch of at most `max` transfer links names (body of at most `bodyBytes`): `names` (a list of names) or `files` (`[{"name", "etag"}]`). */
export const linkedFilesInBody = (max: number, bodyBytes: number): Target => {
  const names = fileNamesOnly("names", max, bodyBytes);
  const files = fileOfEachInBody("files", max, bodyBytes);
  return {
    kind: "name",
    readBody: jsonBody(bodyBytes),
    values: (request, body) => (field(body, "files") !== undefined ? files.values(request, body) : names.values(request, body)),
  };
};

/** A listing's `?prefix=` (empty when absent: the whole bucket or namespace). */
export const prefixInQuery = (key = "prefix"): Target => ({
  kind: "prefix",
  values: (request) => [query(request, key) ?? ""],
});

/** A folder in the path (`:path+`), as the prefix it covers. */
export const folderInPath = (key = "path"): Target => ({
  kind: "prefix",
  values: (request) => [asFolder(decodeParam(param(request, key), "folder path"))],
});

/** A folder in a JSON body field (`path`, `to`), as the prefix it covers, in a body of at most `bodyBytes`. */
export const folderInBody = (key: string, bodyBytes: number): Target => ({
  kind: "prefix",
  readBody: jsonBody(bodyBytes),
  values: (_request, body) => [asFolder(stringField(body, key))],
});

/** The memory key in the path (`:key+`). */
export const memoryKeyInPath = (key = "key"): Target => ({
  kind: "name",
  values: (request) => [checkMemoryKey(decodeParam(param(request, key), "memory key"))],
});

/**
 * How the guard reads the body of a scope that finds names in it (its body target's `readBody`,
 * within the route's own limits, so a body the handler would refuse is refused — 413 — before
 * more of it is read), or undefined when the scope reads no body.
 */
export function bodyReaderOf(scope: Scope): ((request: Request) => Promise<unknown>) | undefined {
  return scope.kind === "needs" ? scope.needs.find((n) => n.target?.readBody)?.target?.readBody : undefined;
}

/**
 * Whether `value` lies inside `prefix`. A prefix target must lie inside in every spelling a
 * handler might use (as sent, and NFC-normalised), so a listing can never reach past it.
 */
export function inside(prefix: string, value: string, kind: "name" | "prefix"): boolean {
  if (prefix === "") return true;
  if (!value.startsWith(prefix)) return false;
  return kind === "name" || value.normalize("NFC").startsWith(prefix);
}

const forbidden = (message: string) => new HttpError("forbidden", message);

/**
 * Throws 403 unless `principal` may do `op` on `name` (a file name or memory key, as the
 * handler will use it). The one check behind every route; WebDAV calls it for each name.
 */
export function authorize(principal: Principal, op: Op, name?: string, kind: "name" | "prefix" = "name"): void {
  if (principal.kind === "peer") return;
  if (principal.kind === "link") throw forbidden("A share link only reads the file it was made for.");
  if (!principal.ops.has(op)) throw forbidden(`This token does not allow "${op}".`);
  if (name !== undefined && !inside(principal.prefix, name, kind)) {
    throw forbidden(
      kind === "prefix" ? "This token may only list or touch names under its prefix." : "This token may only touch names under its prefix.",
    );
  }
}

/** Throws 403 unless `principal` may do `op` on everything under `prefix` (a listing, a folder). */
export const authorizePrefix = (principal: Principal, op: Op, prefix: string): void => authorize(principal, op, prefix, "prefix");

/**
 * Checks every need of `scope` for a scoped token. `body` is the parsed JSON body when the
 * scope reads one. Values that are malformed throw the handler's own 400.
 */
export function checkNeeds(principal: Principal, scope: Scope & { kind: "needs" }, request: IRequest, body: unknown): void {
  for (const need of scope.needs) {
    if (!need.target) {
      authorize(principal, need.op);
      continue;
    }
    const values = need.target.values(request, body);
    if (values.length === 0) authorize(principal, need.op);
    for (const value of values) authorize(principal, need.op, value, need.target.kind);
  }
}
