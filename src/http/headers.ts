/**
 * Router `finally` stage: headers every answer carries. They are set in place; only a
 * response with immutable headers (one passed through from a `fetch`) is copied — copying
 * every response cost ~7% of a memory GET's worker time (bench/profile.ts).
 */
export function withCommonHeaders(response: Response | undefined): Response | undefined {
  if (!response) return response;
  try {
    response.headers.set("x-content-type-options", "nosniff");
    response.headers.set("referrer-policy", "no-referrer");
    return response;
  } catch {
    // Immutable: passed through from a `fetch` (another peer's answer already carries them).
    if (response.headers.get("x-content-type-options") === "nosniff") return response;
    const out = new Response(response.body, response);
    out.headers.set("x-content-type-options", "nosniff");
    out.headers.set("referrer-policy", "no-referrer");
    return out;
  }
}
