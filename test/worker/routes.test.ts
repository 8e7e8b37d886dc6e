import { type IRequest, Router } from "itty-router";
import { describe, expect, it } from "vitest";
import { HttpError, renderError } from "../../src/http/errors";
import { type Handler, type Method, type RouteTable, createRouter, literalPrefix } from "../../src/http/routes";

/**
 * The peer's router (src/http/routes.ts) against itty-router 5, which it replaced: the same
 * table mounted on both the way the peer always mounted it on itty (every handler, then a 405
 * with Allow per path, then a 404) must pick the same route with the same parameters, or the
 * same error, for every method and path below.
 */

const PATHS = [
  "/api/health",
  "/api/peers",
  "/api/stats",
  "/api/files",
  "/api/files/:name+/share",
  "/api/files/:name+/pull",
  "/api/files/:name+",
  "/api/uploads",
  "/api/uploads/:uploadId/parts/:n",
  "/api/uploads/:uploadId/complete",
  "/api/uploads/:uploadId",
  "/api/memory",
  "/api/memory/:key+",
  "/api/tasks",
  "/api/tasks/batch",
  "/api/tasks/:id",
  "/api/cache",
  "/",
  "/assets/:file",
  "/v1.:format/*",
];
const METHODS: Method[] = ["GET", "HEAD", "PUT", "POST", "DELETE"];

/** Each path answers some methods; the handler says which route answered, with what params. */
function table(): RouteTable<unknown> {
  return PATHS.map((path, i) => {
    const methods: Partial<Record<Method, Handler<unknown>>> = {};
    for (const [j, m] of METHODS.entries()) {
      if ((i + j) % 3 !== 0 || path === "/api/memory/:key+") {
        methods[m] = (request: IRequest) => Response.json({ route: `${m} ${path}`, params: request.params });
      }
    }
    return [path, methods] as const;
  });
}

/** The peer's former router: itty-router with src/http/routes.ts's old mountRoutes. */
function ittyFetch(routes: RouteTable<unknown>) {
  const router = Router<IRequest, [unknown, ExecutionContext]>({ catch: renderError });
  for (const [path, methods] of routes) {
    for (const [method, handler] of Object.entries(methods)) router[method.toLowerCase() as "get"](path, handler);
  }
  for (const [path, methods] of routes) {
    const allow = Object.keys(methods).join(", ");
    router.all(path, (request: IRequest) => {
      throw new HttpError("method_not_allowed", `${request.method} is not allowed here; use ${allow}.`, { allow });
    });
  }
  router.all("*", (request: IRequest) => {
    throw new HttpError("not_found", `No route ${request.method} ${new URL(request.url).pathname}.`);
  });
  return (request: Request) => router.fetch(request, {}, {} as ExecutionContext);
}

async function describeAnswer(res: Response) {
  return { status: res.status, allow: res.headers.get("allow"), body: await res.text() };
}

const REQUEST_PATHS = [
  "/",
  "//",
  "/api",
  "/api/",
  "/api/health",
  "/api/health/",
  "/api/healthz",
  "/api/peers",
  "/api/files",
  "/api/files/",
  "/api/files//",
  "/api/files/a",
  "/api/files/a/b/c.txt",
  "/api/files/a/share",
  "/api/files/a/b/share",
  "/api/files/share",
  "/api/files/a/pull/",
  "/api/files/%E2%82%AC/x",
  "/api/filesx",
  "/api/uploads",
  "/api/uploads/u1",
  "/api/uploads/u1/",
  "/api/uploads/u1/parts/3",
  "/api/uploads/u1/parts/",
  "/api/uploads/u1/complete",
  "/api/uploads/u1/x/y",
  "/api/memory",
  "/api/memory/",
  "/api/memory/k",
  "/api/memory/a/b c",
  "/api/memoryk",
  "/api/tasks",
  "/api/tasks/batch",
  "/api/tasks/t1",
  "/api/tasks/t1/x",
  "/api/cache",
  "/api/secret-route",
  "/assets/app.js",
  "/assets/a/b.js",
  "/assets/",
  "/v1.json/anything/here",
  "/v1.json",
  "/v1xjson/a",
  "/elsewhere",
];

describe("router", () => {
  it("answers every method and path as itty-router did", async () => {
    const routes = table();
    const ours = createRouter(routes, { before: [], catch: renderError, finally: [] });
    const theirs = ittyFetch(routes);
    let compared = 0;
    for (const method of [...METHODS, "PATCH", "OPTIONS"]) {
      for (const path of REQUEST_PATHS) {
        const make = () => new Request(`http://peer.test${path}?q=1`, { method });
        const [a, b] = await Promise.all([ours(make(), {}, {} as ExecutionContext), theirs(make())]);
        expect(await describeAnswer(a), `${method} ${path}`).toEqual(await describeAnswer(b));
        compared++;
      }
    }
    expect(compared).toBe(7 * REQUEST_PATHS.length);
  });

  it("tries a route only on paths that start with its literal prefix", () => {
    expect(literalPrefix("/api/memory/:key+")).toBe("/api/memory");
    expect(literalPrefix("/api/files/:name+/share")).toBe("/api/files");
    expect(literalPrefix("/api/tasks/batch")).toBe("/api/tasks/batch");
    expect(literalPrefix("/api//tasks/")).toBe("/api/tasks");
    expect(literalPrefix("/v1.:format/*")).toBe("/v1");
    expect(literalPrefix("/")).toBe("");
    expect(literalPrefix("/a(b)?/c")).toBe("");
  });
});
