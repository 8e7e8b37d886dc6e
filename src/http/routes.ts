import type { IRequest, RouterType } from "itty-router";
import { HttpError } from "./errors";

/** A route handler: itty-router request, the worker's env and execution context. */
export type Handler<E> = (request: IRequest, env: E, ctx: ExecutionContext) => Promise<Response> | Response;

export type Method = "GET" | "HEAD" | "PUT" | "POST" | "DELETE";

/** One path and the handler of each method it answers. */
export type RouteTable<E> = ReadonlyArray<readonly [path: string, methods: Partial<Record<Method, Handler<E>>>]>;

/**
 * Registers every handler of the table, then, after all of them, a catch-all per path that
 * answers 405 with `Allow` — after, so that `GET /api/files/a/share` still reaches the file
 * "a/share" instead of the share route's 405 — and last a 404 for anything unmatched.
 */
export function mountRoutes<E>(router: RouterType<IRequest, [E, ExecutionContext]>, table: RouteTable<E>): void {
  for (const [path, methods] of table) {
    for (const [method, handler] of Object.entries(methods)) {
      router[method.toLowerCase() as Lowercase<Method>](path, handler);
    }
  }
  for (const [path, methods] of table) {
    const allow = Object.keys(methods).join(", ");
    router.all(path, (request: IRequest) => {
      throw new HttpError("method_not_allowed", `${request.method} is not allowed here; use ${allow}.`, { allow });
    });
  }
  router.all("*", (request: IRequest) => {
    throw new HttpError("not_found", `No route ${request.method} ${new URL(request.url).pathname}.`);
  });
}
