import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, errorOf, putFile } from "../support/http";

/** A file's media type: checked on the way in, and never able to break a read. */

describe("content types", () => {
  it.each([
    ["CR and LF", "text/plain\r\nX-Injected: 1"],
    ["a NUL", "text/plain\u0000"],
    ["no subtype", "text"],
    ["spaces inside the type", "text /plain"],
    ["a parameter without a value", "text/plain; charset"],
    ["non-ASCII", "téxt/plain"],
    ["more than 256 characters", `application/${"x".repeat(250)}`],
  ])("refuses a multipart contentType with %s with 400", async (_why, contentType) => {
    const res = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: "typed/multi.bin", contentType }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it.each([
    ["no subtype", "text"],
    ["a parameter without a value", "text/plain; charset"],
    ["two types", "text/plain, text/html"],
  ])("refuses a PUT Content-Type with %s with 400 and stores nothing", async (_why, type) => {
    const res = await putFile("typed/put.txt", "x", { "content-type": type });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    expect(await env.FILES.head("typed/put.txt")).toBeNull();
  });

  it("refuses a WebDAV PUT whose Content-Type is not a media type with 400, of known length or chunked", async () => {
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("chunked"));
        c.close();
      },
    });
    for (const body of ["x", chunked]) {
      const res = await call("/dav/typed-dav.txt", { method: "PUT", body, headers: { "content-type": "text/plain; charset" } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("bad_request");
      expect(await env.FILES.head("typed-dav.txt")).toBeNull();
    }
  });

  it("keeps a valid type with parameters, and gives a file without one application/octet-stream", async () => {
    expect((await putFile("typed/ok.txt", "x", { "content-type": 'text/plain; charset="utf-8"' })).status).toBe(201);
    expect((await call("/api/files/typed/ok.txt")).headers.get("content-type")).toBe('text/plain; charset="utf-8"');
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: "typed/m.bin", contentType: "" }) });
    expect(created.status).toBe(201);
  });

  it("serves a file stored with a broken type as application/octet-stream, not a 500", async () => {
    await env.FILES.put("typed/broken.txt", "bytes", { httpMetadata: { contentType: "text/plain\r\nX-Injected: 1" } });
    for (const method of ["GET", "HEAD"]) {
      const res = await call("/api/files/typed/broken.txt", { method });
      expect(res.status, method).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      expect(res.headers.get("x-injected")).toBeNull();
    }
    expect(await (await call("/api/files/typed/broken.txt")).text()).toBe("bytes");
  });
});
