import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../src/http/errors";
import { BASE } from "../support/http";
import { TEST_TOKEN } from "../support/peers";

const BASIC = `Basic ${btoa(`fuzz:${TEST_TOKEN}`)}`;
const dav = (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
  SELF.fetch(`${BASE}${path}`, { method, headers: { authorization: BASIC, ...init.headers }, body: init.body ?? null });

/** A refusal is the contract's JSON with its code's status, never a 500. */
async function expectRefusal(res: Response): Promise<void> {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { error: { code: keyof typeof ERROR_STATUS } };
  expect(ERROR_STATUS[body.error.code]).toBe(res.status);
}

// Segments from the characters that matter to hrefs and names: spaces, reserved URL characters, NFD, astral, controls.
const segment = fc
  .array(fc.constantFrom("a", "Z", " ", "%", "#", "?", "&", "+", ";", "'", "é", "e\u0301", "日", "😀", "\u0007", "\u202e", ".", ".."), {
    minLength: 1,
    maxLength: 6,
  })
  .map((chars) => chars.join(""))
  // A whole "." or ".." segment never reaches a server: URL parsing resolves it (also as %2E),
  // so the request would name another path than the one this property checks.
  .filter((s) => s !== "." && s !== "..");

describe("WebDAV names, fuzzed", () => {
  it("stores any contract name under its NFC form and gives it back percent-encoded; refuses the rest with JSON", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 3 }), async (segments) => {
        const path = `/dav/fz-${segments.map(encodeURIComponent).join("/")}`;
        const put = await dav("PUT", path, { body: "fuzz" });
        if (put.status >= 400) return expectRefusal(put);
        // A name in a folder that does not exist is a 409 before anything else.
        expect([201, 204]).toContain(put.status);
        const name = `fz-${segments.join("/")}`.normalize("NFC");
        const xml = await (await dav("PROPFIND", path, { headers: { depth: "0" } })).text();
        const href = /<D:href>([^<]*)<\/D:href>/.exec(xml)?.[1] ?? "";
        expect(decodeURIComponent(href)).toBe(`/dav/${name}`);
        expect(href).not.toMatch(/[ #?]/);
        expect(await (await dav("GET", href)).text()).toBe("fuzz");
        expect((await dav("DELETE", href)).status).toBe(204);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("answers any PROPFIND or PROPPATCH body with a 207 or a JSON refusal, never a 500", async () => {
    await dav("PUT", "/dav/fuzz-props.txt", { body: "p" });
    const xmlish = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .array(
          fc.constantFrom(
            "<D:propfind xmlns:D='DAV:'>",
            "<D:prop>",
            "</D:prop>",
            "<x:a xmlns:x='urn:x'/>",
            "<D:allprop/>",
            "&amp;",
            "&x;",
            "<!DOCTYPE a [<!ENTITY x 'y'>]>",
            "<D:propertyupdate xmlns:D='DAV:'>",
            "<D:set>",
            "</D:set>",
            "</D:propfind>",
            "</D:propertyupdate>",
            "<![CDATA[z]]>",
          ),
          {
            maxLength: 12,
          },
        )
        .map((parts) => parts.join("")),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("PROPFIND", "PROPPATCH"), xmlish, async (method, body) => {
        const res = await dav(method, "/dav/fuzz-props.txt", { headers: { depth: "0" }, body });
        if (res.status === 207) {
          expect(res.headers.get("content-type")).toContain("application/xml");
          return;
        }
        await expectRefusal(res);
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
