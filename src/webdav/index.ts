import type { IRequest } from "itty-router";
import type { PeerEnv } from "../env";
import { HttpError } from "../http/errors";
import { urlOf } from "../http/routes";
import { authenticate } from "./auth";
import { type DavContext, davContext } from "./context";
import { lock, unlock } from "./locks";
import { nameOfPath } from "./paths";
import { propfind, proppatch } from "./props";
import { DAV_METHODS, copyOrMove, get, mkcol, options, put, remove } from "./resources";

export { DavState } from "./state";
/** `OPTIONS /`: Windows' mini-redirector and Office ask the server root whether it speaks WebDAV. */
export { options as davOptions } from "./resources";

/** WebDAV's methods (RFC 4918 classes 1 and 2), each with its handler. */
const METHODS: Record<string, (c: DavContext) => Promise<Response>> = {
  GET: get,
  HEAD: get,
  PUT: put,
  DELETE: remove,
  MKCOL: mkcol,
  COPY: copyOrMove,
  MOVE: copyOrMove,
  PROPFIND: propfind,
  PROPPATCH: proppatch,
  LOCK: lock,
  UNLOCK: unlock,
};

/**
 * The /dav/ dispatcher: every request under /dav, whatever its method. OPTIONS answers
 * without a token (it tells a client what the server speaks, nothing about the files);
 * everything else authenticates first. Errors are thrown and rendered by the router's one
 * catch stage, as the contract's JSON.
 */
export async function webdav(request: IRequest, env: PeerEnv): Promise<Response> {
  if (request.method === "OPTIONS") return options();
  const method = METHODS[request.method];
  if (!method)
    throw new HttpError("method_not_allowed", `${request.method} is not a WebDAV method here; use ${DAV_METHODS}.`, { allow: DAV_METHODS });
  const access = await authenticate(request, env);
  const response = await method(davContext(request, env, nameOfPath(urlOf(request).pathname), access));
  response.headers.set("dav", "1, 2");
  return response;
}
