/**
 * Router `finally` stage: headers every answer carries. They are set in place; only a
 * response with immutable headers (one passed through from a `fetch`) is copied — copying
 * every response cost ~7% of a memory GET's worker time (bench/profile.ts).
 */
export function withCommonHeaders(response: Response | undefined): Response | undefined {
  if (!response) return response;
  if (response.headers.get("x-content-type-options") === "nosniff") return response;
  let out = response;
  try {
    out.headers.set("x-content-type-options", "nosniff");
  } catch {
    out = new Response(response.body, response);
    out.headers.set("x-content-type-options", "nosniff");
  }
  out.headers.set("referrer-policy", "no-referrer");
  return out;
}
