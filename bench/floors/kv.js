// Floor for memory: a bare worker doing one KV call per request.
//   GET /<key>  env.KV.get(key)        PUT /<key>  env.KV.put(key, body)
export default {
  async fetch(request, env) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    if (request.method === "GET") {
      const value = await env.KV.get(key);
      if (value === null) return new Response("not found", { status: 404 });
      return new Response(value, { headers: { "content-type": "application/json" } });
    }
    if (request.method === "PUT") {
      await env.KV.put(key, await request.text());
      return Response.json({ key });
    }
    return new Response("method not allowed", { status: 405 });
  },
};
