/** A JSON response with the contract's content type. */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** 204 with no body. */
export const noContent = () => new Response(null, { status: 204 });
