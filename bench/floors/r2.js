// Floor for files: a bare worker that does only what R2 itself does, nothing else.
//   PUT  /<key>        env.FILES.put(key, request.body)  (X-Content-SHA256 → R2's own sha256 check)
//   GET  /<key>        object.body
//   POST /<key>?from=  fetch(from) piped into env.FILES.put (a server-side pull)
// and the three multipart routes of the peer's API, bare (no auth, no checks, no digest), so
// the project's client can run its own multipart upload against the platform alone:
//   POST /api/uploads  ·  PUT /api/uploads/<id>/parts/<n>?name=  ·  POST /api/uploads/<id>/complete?name=
const PART = /^\/api\/uploads\/([^/]+)\/parts\/(\d+)$/;
const COMPLETE = /^\/api\/uploads\/([^/]+)\/complete$/;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/uploads")) return multipart(request, env, url);
    const key = decodeURIComponent(url.pathname.slice(1));
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
      const source = await fetch(url.searchParams.get("from"));
      const object = await env.FILES.put(key, source.body);
      return Response.json({ key, size: object.size }, { status: 201 });
    }
    return new Response("method not allowed", { status: 405 });
  },
};

async function multipart(request, env, url) {
  const name = url.searchParams.get("name");
  if (request.method === "POST" && url.pathname === "/api/uploads") {
    const body = await request.json();
    const upload = await env.FILES.createMultipartUpload(body.name);
    return Response.json({ uploadId: upload.uploadId, name: body.name }, { status: 201 });
  }
  const part = PART.exec(url.pathname);
  if (request.method === "PUT" && part) {
    const upload = env.FILES.resumeMultipartUpload(name, decodeURIComponent(part[1]));
    const uploaded = await upload.uploadPart(Number(part[2]), request.body);
    return Response.json({ part: uploaded.partNumber, etag: uploaded.etag });
  }
  const complete = COMPLETE.exec(url.pathname);
  if (request.method === "POST" && complete) {
    const { parts } = await request.json();
    const upload = env.FILES.resumeMultipartUpload(name, decodeURIComponent(complete[1]));
    const object = await upload.complete(parts.map((p) => ({ partNumber: p.part, etag: p.etag })));
    return Response.json({ name, size: object.size, etag: object.etag, sha256: null }, { status: 201 });
  }
  if (request.method === "DELETE") {
    await env.FILES.resumeMultipartUpload(name, decodeURIComponent(url.pathname.split("/")[3])).abort();
    return new Response(null, { status: 204 });
  }
  return new Response("not found", { status: 404 });
}
