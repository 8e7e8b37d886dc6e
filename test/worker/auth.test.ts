import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { constantTimeEquals } from "../../src/http/auth";
import { PEER2, TEST_TOKEN } from "../support/peers";
import { BASE, call, errorOf, putFile } from "../support/http";

/**
 * A string that counts how many of its code units are read (index, `charCodeAt`, `charAt`,
 * `codePointAt`, `at`), to show that a comparison reads the same amount whatever it compares.
 */
function counting(value: string): { text: string; reads: () => number } {
  let reads = 0;
  const target = new String(value);
  const readers = new Set(["charCodeAt", "charAt", "codePointAt", "at"]);
  const proxy = new Proxy(target, {
    get(t, prop) {
      if (typeof prop === "string" && /^\d+$/.test(prop)) reads++;
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (readers.has(prop as string)) reads++;
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
  return { text: proxy as unknown as string, reads: () => reads };
}
import { env } from "cloudflare:test";

describe("auth", () => {
  it("refuses a request without a token with 401 and says how to send one", async () => {
    const res = await call("/api/files", { token: null });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    const error = await errorOf(res);
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("Authorization: Bearer");
  });

  it("refuses a wrong token with 401 and never echoes it", async () => {
    const res = await call("/api/memory", { token: "guess-123" });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).not.toContain("guess-123");
    expect(text).not.toContain(TEST_TOKEN);
  });

  it("refuses the token of another peer", async () => {
    const res = await call("/api/files", { token: PEER2.token });
    expect(res.status).toBe(401);
  });

  it("refuses a token that only shares a prefix with the real one", async () => {
    expect((await call("/api/files", { token: TEST_TOKEN.slice(0, -1) })).status).toBe(401);
    expect((await call("/api/files", { token: `${TEST_TOKEN}x` })).status).toBe(401);
  });

  it("refuses a non-Bearer scheme", async () => {
    const res = await SELF.fetch(`${BASE}/api/files`, { headers: { authorization: `Basic ${TEST_TOKEN}` } });
    expect(res.status).toBe(401);
  });

  it("checks the token before telling whether a route exists", async () => {
    const res = await call("/api/secret-route", { token: null });
    expect(res.status).toBe(401);
  });

  it("answers 401 with how to set a token when the peer has none", async () => {
    const res = await worker.fetch(new Request(`${BASE}/api/files`), { ...env, PEER_TOKEN: undefined }, {} as ExecutionContext);
    expect(res.status).toBe(401);
    const error = await errorOf(res);
    expect(error.message).toContain("wrangler secret put PEER_TOKEN");
    expect(error.message).toContain('AUTH = "none"');
  });

  it("answers without a token when AUTH is none on purpose", async () => {
    const open = { ...env, PEER_TOKEN: undefined, AUTH: "none" };
    const res = await worker.fetch(new Request(`${BASE}/api/memory`), open, {} as ExecutionContext);
    expect(res.status).toBe(200);
  });

  it("keeps health public even with a wrong token", async () => {
    expect((await call("/api/health", { token: "wrong" })).status).toBe(200);
  });

  it("never answers with HTML or a stack trace", async () => {
    await putFile("x.txt", "x");
    for (const res of [
      await call("/api/files/x.txt", { method: "PATCH" }),
      await call("/api/files/%E0%A4%A"),
      await call("/api/memory/k", { method: "PUT", body: "{not json" }),
    ]) {
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      const text = await res.text();
      expect(text).not.toMatch(/<html|at \w+ \(/i);
    }
  });

  it("accepts a token it has verified again, and still refuses every other header", async () => {
    expect((await call("/api/memory")).status).toBe(200);
    expect((await call("/api/memory")).status).toBe(200);
    const sameLength = TEST_TOKEN.replace(/.$/, (c) => (c === "a" ? "b" : "a"));
    for (const token of [sameLength, TEST_TOKEN.slice(0, -1), `${TEST_TOKEN}x`, "", PEER2.token]) {
      expect((await call("/api/memory", { token })).status, token).toBe(401);
    }
    for (const header of [TEST_TOKEN, `Bearer  ${TEST_TOKEN}x`, `Basic ${TEST_TOKEN}`, `Bearer ${TEST_TOKEN}`.slice(0, -1)]) {
      const res = await SELF.fetch(`${BASE}/api/memory`, { headers: { authorization: header } });
      expect(res.status, header).toBe(401);
    }
    // Other spellings of the scheme are verified in full, then remembered too.
    for (const header of [`bearer ${TEST_TOKEN}`, `Bearer   ${TEST_TOKEN} `, `bearer ${TEST_TOKEN}`]) {
      const res = await SELF.fetch(`${BASE}/api/memory`, { headers: { authorization: header } });
      expect(res.status, header).toBe(200);
    }
  });

  it("forgets the headers it verified when the peer's token changes", async () => {
    const request = () => new Request(`${BASE}/api/memory`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect((await worker.fetch(request(), env, {} as ExecutionContext)).status).toBe(200);
    const rotated = { ...env, PEER_TOKEN: `${TEST_TOKEN}-rotated` };
    expect((await worker.fetch(request(), rotated, {} as ExecutionContext)).status).toBe(401);
    expect((await worker.fetch(request(), env, {} as ExecutionContext)).status).toBe(200);
  });

  it("compares tokens as equal only for the same text, whatever the lengths", () => {
    expect(constantTimeEquals("abc", "abc")).toBe(true);
    for (const presented of ["", "ab", "abd", "abcd", "abcabc", "ABC", "\u0000abc"]) {
      expect(constantTimeEquals(presented, "abc"), presented).toBe(false);
    }
  });

  it("compares in constant time: reads every code unit of the token, wherever the first difference is", () => {
    const token = "s3cret-token-0123456789";
    const reads = (presented: string) => {
      const a = counting(presented);
      const b = counting(token);
      const equal = constantTimeEquals(a.text, b.text);
      return { equal, presented: a.reads(), known: b.reads() };
    };
    const same = reads(token);
    expect(same).toEqual({ equal: true, presented: token.length, known: token.length });
    const differing = [`X${token.slice(1)}`, `${token.slice(0, -1)}X`, "", "s", token.slice(0, 5), `${token}extra`, token.toUpperCase()];
    for (const presented of differing) {
      // An early exit (at the first difference, or on a length mismatch) reads fewer units.
      expect(reads(presented), JSON.stringify(presented)).toEqual({ ...same, equal: false });
    }
  });
});
