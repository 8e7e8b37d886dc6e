// Floor for files: a bare worker that does only what R2 itself does, nothing else.
//   PUT  /<key>        env.FILES.put(key, request.body)  (X-Content-SHA256 → R2's own sha256 check)
//   GET  /<key>        object.body
//   POST /<key>?from=  fetch(from) piped into env.FILES.put (a server-side pull)
export default {
  async fetch(request, env) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    if (request.method === "PUT") {
      const sha256 = request.headers.get("x-content-sha256");
      const object = await env.FILES.put(key, request.body, sha256 ? { sha256 } : undefined);
      return Response.json({ key, size: object.size }, { status: 201 });
    }
    if (request.method === "GET") {
      const object = await env.FILES.get(key);
      if (!object) return new Response("not found", { status: 404 });
      // A type that is not compressible, as edgepeer's: otherwise the runtime gzips the answer.
      return new Response(object.body, {
        headers: { "content-type": "application/octet-stream", "content-length": String(object.size) },
      });
    }
    if (request.method === "POST") {
      const from = new URL(request.url).searchParams.get("from");
      const source = await fetch(from);
      const object = await env.FILES.put(key, source.body);
      return Response.json({ key, size: object.size }, { status: 201 });
    }
    return new Response("method not allowed", { status: 405 });
  },
};
