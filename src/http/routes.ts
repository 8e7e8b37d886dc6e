import type { IRequest } from "itty-router";
import { ANY_TOKEN, PUBLIC, type Scope } from "../access/scope";
import { HttpError } from "./errors";
import { settleUnreadBody } from "./unreadBody";

/** A route handler: itty-router request, the worker's env and execution context. */
export type Handler<E> = (request: IRequest, env: E, ctx: ExecutionContext) => Promise<Response> | Response;

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "OPTIONS";

/** Who may call a route: one scope for all its methods, or one per method (src/access/scope.ts). */
export type RouteAccess = Scope | Partial<Record<Method, Scope>>;

/** One path, the handler of each method it answers, and who may call it. */
export type RouteTable<E> = ReadonlyArray<readonly [path: string, methods: Partial<Record<Method, Handler<E>>>, access?: RouteAccess]>;

/**
 * Prefixes served whole by one dispatcher, whatever the method: a protocol with verbs of its
 * own (WebDAV's PROPFIND, MKCOL, LOCK…) that a table of methods per path cannot hold.
 */
export type MountTable<E> = ReadonlyArray<readonly [prefix: string, dispatcher: Handler<E>]>;

type Args<E> = [request: IRequest, env: E, ctx: ExecutionContext];

/** The router's stages, with itty-router's meaning: `before` may answer, `catch` renders errors, `finally` amends. */
export interface Stages<E> {
  before: ReadonlyArray<(...args: Args<E>) => Response | undefined | Promise<Response | undefined>>;
  catch: (err: unknown, ...args: Args<E>) => Response;
  finally: ReadonlyArray<(response: Response | undefined, ...args: Args<E>) => Response | undefined>;
  /**
   * Runs after a route matched and before its handler, with the route's scope: it throws to
   * refuse. With a guard, every method of every route must declare a scope (the router will
   * not be built otherwise); the 405 and 404 catch-alls need any valid token under /api/.
   */
  guard?: (request: IRequest, env: E, scope: Scope) => void | Promise<void>;
  /** After the handler (or its error): a check the guard left running; if it throws, its error is the answer. */
  settle?: (request: IRequest) => Promise<void> | undefined;
}

const scopeOf = (access: RouteAccess | undefined, method: string): Scope | undefined =>
  access && "kind" in access ? (access as Scope) : (access as Partial<Record<string, Scope>> | undefined)?.[method];

const URL_OF = Symbol("edgepeer.url");

/** The request's URL, parsed once per request (the router, auth and CORS all need its path). */
export function urlOf(request: Request): URL {
  const holder = request as Request & { [URL_OF]?: URL };
  let url = holder[URL_OF];
  if (!url) {
    url = new URL(request.url);
    holder[URL_OF] = url;
  }
  return url;
}

/**
 * itty-router 5's pattern language, compiled exactly as itty-router compiles it (`:name`,
 * `:name+`, `*`, trailing slashes), so paths match as they always have.
 */
export function compilePattern(path: string): RegExp {
  const normalised = path.replace(/\/+(\/|$)/g, "$1");
  return RegExp(
    `^${normalised
      .replace(/(\/?\.?):(\w+)\+/g, "($1(?<$2>[^]+))")
      .replace(/(\/?\.?):(\w+)/g, "($1(?<$2>[^$1/]+?))")
      .replace(/\./g, "\\.")
      .replace(/(\/?)\*/g, "($1.*)?")}/*$`,
  );
}

/**
 * What every path the pattern matches starts with: its text before the first parameter or
 * wildcard, without the `/` or `.` that may belong to it. A pattern with other regex syntax
 * in its literal part gets "" (no shortcut: the regex alone decides).
 */
export function literalPrefix(path: string): string {
  const normalised = path.replace(/\/+(\/|$)/g, "$1");
  const cut = normalised.search(/[:*]/);
  const literal = (cut < 0 ? normalised : normalised.slice(0, cut)).replace(/[/.]+$/, "");
  return /[\\^$|?+()[\]{}]/.test(literal) ? "" : literal;
}

interface Entry<E> {
  /** Upper-case method, or null for any. */
  method: string | null;
  prefix: string;
  regex: RegExp;
  scope: Scope;
  handler: (...args: Args<E>) => Promise<Response> | Response;
}

/**
 * Builds the worker's `fetch` from the table, with itty-router's semantics: every handler of
 * the table first, in table order; then, after all of them, a catch-all per path that answers
 * 405 with `Allow` — after, so that `GET /api/files/a/share` still reaches the file "a/share"
 * instead of the share route's 405 — and last a 404 for anything unmatched.
 *
 * The first route whose method and pattern match answers. Unlike itty-router, a route is only
 * tried on a path that starts with its literal prefix (`/api/memory` for `/api/memory/:key+`),
 * and the URL is parsed once: a memory GET runs two regexes instead of seven.
 *
 * A path at or under a mount's prefix goes to that mount's dispatcher, after the `before`
 * stages and instead of the table.
 */
export function createRouter<E>(
  table: RouteTable<E>,
  stages: Stages<E>,
  mounts: MountTable<E> = [],
): (request: Request, env: E, ctx: ExecutionContext) => Promise<Response> {
  const entries: Entry<E>[] = [];
  for (const [path, methods, access] of table) {
    for (const [method, handler] of Object.entries(methods)) {
      const scope = scopeOf(access, method);
      if (!scope && stages.guard) throw new Error(`Route ${method} ${path} declares no scope: say who may call it.`);
      entries.push({ method, prefix: literalPrefix(path), regex: compilePattern(path), scope: scope ?? PUBLIC, handler });
    }
  }
  for (const [path, methods, access] of table) {
    const allow = Object.keys(methods).join(", ");
    const open = Object.keys(methods).every((m) => scopeOf(access, m)?.kind === "public");
    entries.push({
      method: null,
      prefix: literalPrefix(path),
      regex: compilePattern(path),
      scope: open ? PUBLIC : ANY_TOKEN,
      handler: (request) => {
        throw new HttpError("method_not_allowed", `${request.method} is not allowed here; use ${allow}.`, { allow });
      },
    });
  }
  const notFound = (request: IRequest) => {
    throw new HttpError("not_found", `No route ${request.method} ${urlOf(request).pathname}.`);
  };
  // A token is checked before telling whether a route exists under /api/.
  entries.push({ method: null, prefix: "/api/", regex: /^/, scope: ANY_TOKEN, handler: notFound });
  entries.push({ method: null, prefix: "", regex: /^/, scope: PUBLIC, handler: notFound });

  return async (raw, env, ctx) => {
    const request = raw as IRequest;
    let response: Response | undefined;
    try {
      for (const stage of stages.before) {
        let early = stage(request, env, ctx);
        if (early instanceof Promise) early = await early;
        if (early != null) {
          response = early;
          break;
        }
      }
      if (response == null) {
        const { pathname } = urlOf(request);
        const method = request.method;
        for (const [prefix, dispatcher] of mounts) {
          if (pathname === prefix || pathname.startsWith(`${prefix}/`)) {
            response = await dispatcher(request, env, ctx);
            break;
          }
        }
        for (const entry of response == null ? entries : []) {
          if ((entry.method !== null && entry.method !== method) || !pathname.startsWith(entry.prefix)) continue;
          const match = entry.regex.exec(pathname);
          if (!match) continue;
          request.params = (match.groups ?? {}) as IRequest["params"];
          if (stages.guard) {
            const refused = stages.guard(request, env, entry.scope);
            if (refused instanceof Promise) await refused;
          }
          response = await entry.handler(request, env, ctx);
          if (response != null) break;
        }
      }
    } catch (err) {
      response = stages.catch(err, request, env, ctx);
    }
    const pending = stages.settle?.(request);
    if (pending) {
      try {
        await pending;
      } catch (err) {
        await response?.body?.cancel().catch(() => {});
        response = stages.catch(err, request, env, ctx);
      }
    }
    try {
      for (const stage of stages.finally) response = stage(response, request, env, ctx) ?? response;
    } catch (err) {
      response = stages.catch(err, request, env, ctx);
    }
    // Every path ends in the 404 catch-all or an error, so there is always an answer.
    return settleUnreadBody(raw, response as Response);
  };
}
