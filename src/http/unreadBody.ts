/**
 * A request answered without reading its body (a 413 over quota, a 401, a 411…). workerd
 * closes the connection right after such an answer (it drops a `Connection: close` header a
 * worker sets, and closes anyway), and the body bytes still arriving make its TCP stack reset
 * the connection: the client loses the answer it had not read yet, or sends its next request
 * on a connection that is already gone. Reading the rest of the body first (a lingering
 * close) lets the answer arrive whole and keeps the connection. On the platform the runtime
 * discards an unread body itself; there this costs a refused upload's wall time, never a byte stored.
 *
 * The drain is bounded so that nobody can hold a peer's request open with it: a caller the
 * guard has not authenticated (and every 401 or 403) gets at most `ANONYMOUS_DRAIN_LIMIT`
 * bytes read, and every drain stops at `DRAIN_DEADLINE_MS`, when the answer goes out anyway.
 */
import { unreadRest } from "./body";

/** An authenticated caller's refused body up to this many bytes is read and dropped before the answer: one default multipart part (16 MiB). */
export const DRAIN_LIMIT = 16 * 1024 * 1024;

/** Before authentication (or on a 401/403), only a body this small is read: an anonymous client makes the peer wait for little. */
export const ANONYMOUS_DRAIN_LIMIT = 64 * 1024;

/** A drain still unfinished after this long is cancelled and the answer sent: a client that stops sending holds nothing. */
export const DRAIN_DEADLINE_MS = 5_000;

const AUTHENTICATED = Symbol("edgepeer.authenticated");

/** Records that the guard (or WebDAV's `authenticate`) accepted this request's credentials: its refused body may be drained in full. */
export function markAuthenticated(request: Request): void {
  (request as Request & { [AUTHENTICATED]?: true })[AUTHENTICATED] = true;
}

/** How many bytes of a refused body are worth reading before `response`, for whoever sent `request`. */
function drainLimit(request: Request, response: Response): number {
  const authenticated = (request as Request & { [AUTHENTICATED]?: true })[AUTHENTICATED] === true;
  return authenticated && response.status !== 401 && response.status !== 403 ? DRAIN_LIMIT : ANONYMOUS_DRAIN_LIMIT;
}

/**
 * Reads and drops the body of `request` when nothing read it and it declares at most the
 * caller's limit (`DRAIN_LIMIT` once authenticated, else `ANONYMOUS_DRAIN_LIMIT`), for at most
 * `DRAIN_DEADLINE_MS`, then gives back `response`. A longer or undeclared body, or one the client holds
 * back for `Expect: 100-continue` (it sends nothing after a final answer), is left alone, and a
 * drain past its deadline is cancelled: under workerd that client may see a reset
 * (docs/api.md, "Refused uploads").
 */
export async function settleUnreadBody(request: Request, response: Response): Promise<Response> {
  const body = request.body;
  if (!body) return response;
  // A body read up to its first line only (a batch put refused after its manifest) is drained from there.
  const headed = body.locked ? unreadRest(request) : null;
  const rest = headed ? await headed : null;
  if (!rest && (request.bodyUsed || body.locked)) return response;
  if (request.headers.get("expect")?.toLowerCase() === "100-continue") return response;
  const declared = request.headers.get("content-length");
  const limit = drainLimit(request, response);
  if (declared === null || !(Number(declared) <= limit)) return response;
  const reader = rest ?? body.getReader();
  let stopTimer = () => {};
  const deadline = new Promise<"late">((resolve) => {
    const timer = setTimeout(() => resolve("late"), DRAIN_DEADLINE_MS);
    stopTimer = () => clearTimeout(timer);
  });
  const drain = async (): Promise<"done" | "over"> => {
    for (let read = 0; read <= limit; ) {
      const { done, value } = await reader.read();
      if (done) return "done";
      read += value.byteLength;
    }
    return "over";
  };
  // A client gone mid-body ends the drain: it reads no answer either.
  const drained = drain().catch(() => "done" as const);
  const outcome = await Promise.race([drained, deadline]);
  stopTimer();
  // Not awaited: a cancel that hangs must not hold the answer it was meant to free.
  if (outcome !== "done") reader.cancel().catch(() => {});
  return response;
}
