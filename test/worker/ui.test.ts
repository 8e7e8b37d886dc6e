import { describe, expect, it } from "vitest";
import { call, errorOf } from "../support/http";
import { PEER2 } from "../support/peers";

describe("web UI shell and assets", () => {
  it("serves the shell at / without a token, with a strict CSP and no framing", async () => {
    const res = await call("/", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "require-trusted-types-for 'script'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(csp).toContain(`connect-src 'self' http://local.test ${PEER2.url}`);
    // Previews load this origin's signed file links, and only those (no blob:, data: or other hosts).
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(" ")[0], d] as const));
    expect(directives.get("media-src")).toBe("media-src 'self'");
    expect(directives.get("frame-src")).toBe("frame-src 'self'");
    expect(directives.get("img-src")).toBe("img-src 'self' data:");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
    expect(html).not.toMatch(/<script>/);
  });

  it("answers HEAD / with the headers and no body", async () => {
    const res = await call("/", { method: "HEAD", token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await res.text()).toBe("");
  });

  it("serves the script, style and icon with their types, and 304 for a matching If-None-Match", async () => {
    for (const [file, type] of [
      ["app.js", "text/javascript; charset=utf-8"],
      ["app.css", "text/css; charset=utf-8"],
      ["icon.svg", "image/svg+xml"],
    ] as const) {
      const res = await call(`/assets/${file}`, { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      const etag = res.headers.get("etag") ?? "";
      await res.arrayBuffer();
      const again = await call(`/assets/${file}`, { token: null, headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
    }
  });

  it("answers an unknown asset with 404 in the contract's shape, and never serves the shell as an asset", async () => {
    for (const file of ["nothing.js", "index.html"]) {
      const res = await call(`/assets/${file}`, { token: null });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
  });

  it("refuses other methods on / with 405", async () => {
    const res = await call("/", { method: "POST", token: null });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
  });
});

describe("CORS for the known peers' pages", () => {
  it("answers a preflight from a known peer's origin with 204 and what it may send", async () => {
    const res = await call("/api/files/a.txt/pull", {
      method: "OPTIONS",
      token: null,
      headers: {
        origin: PEER2.url,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(PEER2.url);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("refuses a preflight from an unknown origin with 403 and no CORS grant", async () => {
    const res = await call("/api/files/a.txt/pull", {
      method: "OPTIONS",
      token: null,
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await errorOf(res)).code).toBe("forbidden");
  });

  it("lets a known peer's page read answers, errors included, and exposes the checksum header", async () => {
    const ok = await call("/api/health", { token: null, headers: { origin: PEER2.url } });
    expect(ok.headers.get("access-control-allow-origin")).toBe(PEER2.url);
    expect(ok.headers.get("access-control-expose-headers")).toContain("x-content-sha256");
    const refused = await call("/api/stats", { token: "wrong", headers: { origin: PEER2.url } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(PEER2.url);
  });

  it("grants nothing to an unknown origin, and nothing without an Origin", async () => {
    const stranger = await call("/api/health", { token: null, headers: { origin: "https://evil.example" } });
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    expect(stranger.headers.get("vary")).toContain("Origin");
    const plain = await call("/api/health", { token: null });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
  });
});
