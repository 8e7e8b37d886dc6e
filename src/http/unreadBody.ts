/**
 * A request answered without reading its body (a 413 over quota, a 401, a 411…). workerd
 * closes the connection right after such an answer (it drops a `Connection: close` header a
 * worker sets, and closes anyway), and the body bytes still arriving make its TCP stack reset
 * the connection: the client loses the answer it had not read yet, or sends its next request
 * on a connection that is already gone. Reading the rest of the body first (a lingering
 * close) lets the answer arrive whole and keeps the connection. On the platform the runtime
 * discards an unread body itself; there this costs a refused upload's wall time, never a byte stored.
 */

/** A refused body up to this many bytes is read and dropped before the answer: one default multipart part (16 MiB). */
export const DRAIN_LIMIT = 16 * 1024 * 1024;

/**
 * Reads and drops the body of `request` when nothing read it and it declares at most
 * `DRAIN_LIMIT` bytes, then gives back `response`. A longer or undeclared body, or one the
 * client holds back for `Expect: 100-continue` (it sends nothing after a final answer), is
 * left alone: under workerd its client may still see a reset (docs/api.md, "Refused uploads").
 */
export async function settleUnreadBody(request: Request, response: Response): Promise<Response> {
  const body = request.body;
  if (!body || request.bodyUsed || body.locked) return response;
  if (request.headers.get("expect")?.toLowerCase() === "100-continue") return response;
  const declared = request.headers.get("content-length");
  if (declared === null || !(Number(declared) <= DRAIN_LIMIT)) return response;
  const reader = body.getReader();
  try {
    for (let read = 0; read <= DRAIN_LIMIT; ) {
      const { done, value } = await reader.read();
      if (done) return response;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away mid-body: it reads no answer either.
  }
  return response;
}
