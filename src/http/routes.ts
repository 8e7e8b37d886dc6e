import type { IRequest } from "itty-router";
import { HttpError } from "./errors";

/** A route handler: itty-router request, the worker's env and execution context. */
export type Handler<E> = (request: IRequest, env: E, ctx: ExecutionContext) => Promise<Response> | Response;

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "OPTIONS";

/** One path and the handler of each method it answers. */
export type RouteTable<E> = ReadonlyArray<readonly [path: string, methods: Partial<Record<Method, Handler<E>>>]>;

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
}

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
  for (const [path, methods] of table) {
    for (const [method, handler] of Object.entries(methods)) {
      entries.push({ method, prefix: literalPrefix(path), regex: compilePattern(path), handler });
    }
  }
  for (const [path, methods] of table) {
    const allow = Object.keys(methods).join(", ");
    entries.push({
      method: null,
      prefix: literalPrefix(path),
      regex: compilePattern(path),
      handler: (request) => {
        throw new HttpError("method_not_allowed", `${request.method} is not allowed here; use ${allow}.`, { allow });
      },
    });
  }
  entries.push({
    method: null,
    prefix: "",
    regex: /^/,
    handler: (request) => {
      throw new HttpError("not_found", `No route ${request.method} ${urlOf(request).pathname}.`);
    },
  });

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
          response = await entry.handler(request, env, ctx);
          if (response != null) break;
        }
      }
    } catch (err) {
      response = stages.catch(err, request, env, ctx);
    }
    try {
      for (const stage of stages.finally) response = stage(response, request, env, ctx) ?? response;
    } catch (err) {
      response = stages.catch(err, request, env, ctx);
    }
    // Every path ends in the 404 catch-all or an error, so there is always an answer.
    return response as Response;
  };
}
