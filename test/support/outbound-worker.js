/**
 * The network between the worker under test and the world, for worker tests (its
 * `outboundService`): every fetch the peer makes arrives here and is logged, so a test can
 * show that a refused pull fetched nothing. `http://peer2.test` is passed to the second test
 * peer; a link of peer2 carrying `__redirect=<url>` answers 302 to that URL (pull must not
 * follow it), one carrying `__hang` answers 200 with 10 bytes promised, sends one and stalls (a
 * hung source: only the puller's deadline ends it), one carrying `__nosha` is passed on without
 * it and answered without its X-Content-SHA256 (a source that reports none: an older peer, or a
 * file it holds without one); any other host is unreachable (502). The log is read at `http://outbound.test/log`
 * through the OUTBOUND service binding. Plain JavaScript: Miniflare loads it as it is.
 */
const log = [];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.host === "outbound.test") {
      return Response.json(log);
    }
    log.push({ method: request.method, url: request.url });
    if (url.searchParams.has("__hang")) return hanging();
    const to = url.searchParams.get("__redirect");
    if (to) return new Response(null, { status: 302, headers: { location: to } });
    if (url.host === "peer2.test" && url.searchParams.has("__nosha")) return withoutSha256(env, url, request);
    if (url.host === "peer2.test") return env.PEER2.fetch(request);
    return new Response("unreachable host", { status: 502 });
  },
};

/** peer2's answer to `url` less `__nosha`, without the SHA-256 it reports (buffered: test files are small). */
async function withoutSha256(env, url, request) {
  url.searchParams.delete("__nosha");
  const answer = await env.PEER2.fetch(new Request(url, request));
  const headers = new Headers(answer.headers);
  headers.delete("x-content-sha256");
  return new Response(await answer.arrayBuffer(), { status: answer.status, headers });
}

/** A 200 that promises 10 bytes, sends 1 and then nothing for ten minutes. */
function hanging() {
  const { readable, writable } = new FixedLengthStream(10);
  const writer = writable.getWriter();
  writer.write(new Uint8Array(1)).catch(() => {});
  // A timer keeps the stall alive (workerd ends a request with nothing pending as hung).
  setTimeout(() => writer.write(new Uint8Array(9)).catch(() => {}), 600_000);
  return new Response(readable, { headers: { "content-type": "application/octet-stream", "content-length": "10" } });
}
