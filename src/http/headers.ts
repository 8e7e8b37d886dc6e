/**
 * Router `finally` stage: headers every answer carries. Responses from R2 bodies are
 * immutable, so they are copied only when a header is missing.
 */
export function withCommonHeaders(response: Response | undefined): Response | undefined {
  if (!response) return response;
  if (response.headers.get("x-content-type-options") === "nosniff") return response;
  const out = new Response(response.body, response);
  out.headers.set("x-content-type-options", "nosniff");
  out.headers.set("referrer-policy", "no-referrer");
  return out;
}
