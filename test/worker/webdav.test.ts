import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, call, errorOf, sha256 } from "../support/http";
import { TEST_TOKEN } from "../support/peers";

const BASIC = `Basic ${btoa(`anyone:${TEST_TOKEN}`)}`;

/** A /dav/ request with the token as a Basic password (as Finder or Explorer send it). */
function dav(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit | null; auth?: string | null } = {}) {
  const headers = new Headers(init.headers);
  const auth = init.auth === undefined ? BASIC : init.auth;
  if (auth !== null) headers.set("authorization", auth);
  return SELF.fetch(`${BASE}${path}`, { method, headers, body: init.body ?? null });
}

const text = (s: string) => new TextEncoder().encode(s);

/** The hrefs of a multistatus, decoded as a client would. */
const hrefsOf = (xml: string) => [...xml.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => decodeURIComponent(m[1] ?? ""));

async function lockOf(path: string, scope = "exclusive", headers: Record<string, string> = {}) {
  const res = await dav("LOCK", path, {
    headers: { "content-type": "application/xml", ...headers },
    body: `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>tester</D:owner></D:lockinfo>`,
  });
  return { res, token: /^<(.+)>$/.exec(res.headers.get("lock-token") ?? "")?.[1] ?? "" };
}

describe("WebDAV OPTIONS and auth", () => {
  it("answers OPTIONS with DAV: 1, 2, MS-Author-Via and every method in Allow", async () => {
    const res = await dav("OPTIONS", "/dav/", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("dav")).toBe("1, 2");
    expect(res.headers.get("ms-author-via")).toBe("DAV");
    for (const m of ["PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PUT", "DELETE"]) {
      expect(res.headers.get("allow")).toContain(m);
    }
  });

  it("answers OPTIONS at the server root too, as Windows and Office ask there", async () => {
    const res = await dav("OPTIONS", "/", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("ms-author-via")).toBe("DAV");
    expect(res.headers.get("dav")).toBe("1, 2");
  });

  it("answers 401 with a Basic challenge without a token, and JSON", async () => {
    const res = await dav("PROPFIND", "/dav/", { auth: null, headers: { depth: "0" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="edgepeer"/);
    expect((await errorOf(res)).code).toBe("unauthorized");
  });

  it("refuses a wrong Basic password with 401", async () => {
    const res = await dav("PROPFIND", "/dav/", { auth: `Basic ${btoa("me:wrong")}`, headers: { depth: "0" } });
    expect(res.status).toBe(401);
  });

  it("takes the token as a Basic password with any user name, or as Bearer", async () => {
    expect((await dav("PROPFIND", "/dav/", { headers: { depth: "0" } })).status).toBe(207);
    expect((await dav("PROPFIND", "/dav/", { auth: `Bearer ${TEST_TOKEN}`, headers: { depth: "0" } })).status).toBe(207);
  });

  it("answers an unknown method with 405 and Allow", async () => {
    const res = await dav("PATCH", "/dav/x");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("PROPFIND");
  });
});

describe("WebDAV PUT and GET", () => {
  it("stores a file the API sees with its SHA-256, and serves it back with ETag and Range", async () => {
    const put = await dav("PUT", "/dav/a.txt", { body: "hello webdav" });
    expect(put.status).toBe(201);
    const listed = (await (await call("/api/files?prefix=a.txt")).json()) as { files: Array<{ name: string; sha256: string }> };
    expect(listed.files[0]).toMatchObject({ name: "a.txt", sha256: await sha256("hello webdav") });
    const get = await dav("GET", "/dav/a.txt", { headers: { range: "bytes=6-" } });
    expect(get.status).toBe(206);
    expect(await get.text()).toBe("webdav");
    expect(get.headers.get("etag")).toMatch(/^".+"$/);
    expect((await dav("PUT", "/dav/a.txt", { body: "again" })).status).toBe(204);
  });

  it.each([
    ["past one part", 9 * 1024 * 1024 + 123],
    ["of exactly one part", 8 * 1024 * 1024],
  ])("stores a chunked body of unknown length %s, streamed, with its SHA-256", async (_, size) => {
    const chunk = Uint8Array.from({ length: 64 * 1024 }, (_, i) => (i * 7) % 251);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const n = Math.min(chunk.byteLength, size - sent);
        controller.enqueue(chunk.slice(0, n));
        sent += n;
      },
    });
    const whole = new Uint8Array(size);
    for (let at = 0; at < size; at += chunk.byteLength) whole.set(chunk.subarray(0, Math.min(chunk.byteLength, size - at)), at);
    const res = await dav("PUT", `/dav/chunked-${size}.bin`, { body });
    expect(res.status).toBe(201);
    const head = await call(`/api/files/chunked-${size}.bin`, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(size));
    expect(head.headers.get("x-content-sha256")).toBe(await sha256(whole));
  });

  it("stores a small chunked body as one plain file", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(text("small "));
        c.enqueue(text("chunks"));
        c.close();
      },
    });
    expect((await dav("PUT", "/dav/small-chunked.txt", { body })).status).toBe(201);
    expect(await (await env.FILES.get("small-chunked.txt"))!.text()).toBe("small chunks");
  });

  it("stores Finder's chunked body with X-Expected-Entity-Length, and its ._ and .DS_Store files", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(text("finder "));
        c.enqueue(text("bytes"));
        c.close();
      },
    });
    const res = await dav("PUT", "/dav/finder.txt", { body, headers: { "x-expected-entity-length": "12" } });
    expect(res.status).toBe(201);
    expect(await (await env.FILES.get("finder.txt"))!.text()).toBe("finder bytes");
    expect((await dav("PUT", "/dav/._finder.txt", { body: "appledouble" })).status).toBe(201);
    expect((await dav("PUT", "/dav/.DS_Store", { body: "ds" })).status).toBe(201);
    expect(await env.FILES.head("._finder.txt")).not.toBeNull();
  });

  it("refuses an X-Expected-Entity-Length the body does not match, storing nothing", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(text("abc"));
        c.close();
      },
    });
    const res = await dav("PUT", "/dav/short.txt", { body, headers: { "x-expected-entity-length": "10" } });
    expect(res.status).toBe(400);
    expect(await env.FILES.head("short.txt")).toBeNull();
  });

  it("serves a folder as an HTML index of its members, links escaped and percent-encoded", async () => {
    await dav("MKCOL", "/dav/index");
    await dav("PUT", `/dav/index/${encodeURIComponent("<b>&.txt")}`, { body: "x" });
    await dav("MKCOL", "/dav/index/sub");
    const res = await dav("GET", "/dav/index/");
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain(`<a href="/dav/index/%3Cb%3E%26.txt">&lt;b&gt;&amp;.txt</a>`);
    expect(html).toContain(`<a href="/dav/index/sub/">sub/</a>`);
  });

  it("answers 409 to a PUT into a folder that does not exist", async () => {
    const res = await dav("PUT", "/dav/no-such-folder/x.txt", { body: "x" });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe("conflict");
  });

  it("keeps names with spaces and unicode both ways, NFC on the way in", async () => {
    await dav("MKCOL", "/dav/My%20Docs");
    const nfd = "cafe\u0301 ✓.txt";
    const put = await dav("PUT", `/dav/My%20Docs/${encodeURIComponent(nfd)}`, { body: "unicode" });
    expect(put.status).toBe(201);
    expect(await env.FILES.head("My Docs/café ✓.txt")).not.toBeNull();
    const list = await dav("PROPFIND", "/dav/My%20Docs/", { headers: { depth: "1" } });
    const xml = await list.text();
    expect(xml).toContain(`/dav/My%20Docs/${encodeURIComponent("café ✓.txt")}`);
    expect(hrefsOf(xml)).toEqual(["/dav/My Docs/", "/dav/My Docs/café ✓.txt"]);
    expect(await (await dav("GET", `/dav/My%20Docs/${encodeURIComponent("café ✓.txt")}`)).text()).toBe("unicode");
  });
});

describe("WebDAV MKCOL and DELETE", () => {
  it("makes a folder (a marker the API sees), 405 when it exists, 409 without a parent, 415 with a body", async () => {
    expect((await dav("MKCOL", "/dav/coll")).status).toBe(201);
    expect(await env.FILES.head("coll/")).not.toBeNull();
    expect((await dav("MKCOL", "/dav/coll")).status).toBe(405);
    expect((await dav("MKCOL", "/dav/none/sub")).status).toBe(409);
    const withBody = await dav("MKCOL", "/dav/coll2", { body: "<x/>", headers: { "content-type": "application/xml" } });
    expect(withBody.status).toBe(415);
    expect((await errorOf(withBody)).code).toBe("unsupported_media_type");
  });

  it("deletes a folder with everything under it", async () => {
    await dav("MKCOL", "/dav/gone");
    await dav("MKCOL", "/dav/gone/deep");
    await dav("PUT", "/dav/gone/deep/f.txt", { body: "f" });
    expect((await dav("DELETE", "/dav/gone")).status).toBe(204);
    expect((await env.FILES.list({ prefix: "gone/" })).objects).toEqual([]);
    expect((await dav("DELETE", "/dav/gone")).status).toBe(404);
  });
});

describe("WebDAV PROPFIND", () => {
  it("describes a folder and its members at Depth 1", async () => {
    await dav("MKCOL", "/dav/pf");
    await dav("PUT", "/dav/pf/one.txt", { body: "12345", headers: { "content-type": "text/plain" } });
    await dav("MKCOL", "/dav/pf/sub");
    const res = await dav("PROPFIND", "/dav/pf/", { headers: { depth: "1" } });
    expect(res.status).toBe(207);
    const xml = await res.text();
    expect(hrefsOf(xml).sort()).toEqual(["/dav/pf/", "/dav/pf/one.txt", "/dav/pf/sub/"]);
    expect(xml).toContain("<D:getcontentlength>5</D:getcontentlength>");
    expect(xml).toContain("<D:getcontenttype>text/plain</D:getcontenttype>");
    expect(xml).toContain("<D:collection/>");
    expect(xml).toContain("<D:supportedlock>");
  });

  it("describes only the resource at Depth 0 and refuses infinity with 403", async () => {
    const zero = await (await dav("PROPFIND", "/dav/pf/", { headers: { depth: "0" } })).text();
    expect(hrefsOf(zero)).toEqual(["/dav/pf/"]);
    const infinite = await dav("PROPFIND", "/dav/pf/", { headers: { depth: "infinity" } });
    expect(infinite.status).toBe(403);
    expect((await errorOf(infinite)).message).toContain("propfind-finite-depth");
  });

  it("answers asked-for properties, 404 in a propstat for unknown ones", async () => {
    const body = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop><D:getcontentlength/><X:nothing/></D:prop></D:propfind>`;
    const xml = await (await dav("PROPFIND", "/dav/pf/one.txt", { headers: { depth: "0" }, body })).text();
    expect(xml).toMatch(/<D:propstat><D:prop><D:getcontentlength>5<\/D:getcontentlength><\/D:prop><D:status>HTTP\/1.1 200 OK/);
    expect(xml).toMatch(/<ns\d:nothing xmlns:ns\d="urn:x"\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/);
  });

  it("gives the quota properties from the peer's usage when asked", async () => {
    await dav("PUT", "/dav/quota.txt", { body: "counted" });
    const body = `<D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>`;
    const xml = await (await dav("PROPFIND", "/dav/", { headers: { depth: "0" }, body })).text();
    const used = Number(/<D:quota-used-bytes>(\d+)</.exec(xml)?.[1]);
    const available = Number(/<D:quota-available-bytes>(\d+)</.exec(xml)?.[1]);
    const stats = (await (await call("/api/stats")).json()) as { files: { bytes: number } };
    expect(used).toBeGreaterThan(0);
    expect(used).toBe(stats.files.bytes);
    expect(used + available).toBe(51200 * 1024 * 1024);
  });

  it("answers 404 for nothing there and 400 for malformed XML or an entity bomb", async () => {
    expect((await dav("PROPFIND", "/dav/absent", { headers: { depth: "0" } })).status).toBe(404);
    expect((await dav("PROPFIND", "/dav/", { headers: { depth: "0" }, body: "<D:propfind xmlns:D='DAV:'>" })).status).toBe(400);
    const bomb = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><D:propfind xmlns:D="DAV:"><D:prop><x>&b;</x></D:prop></D:propfind>`;
    expect((await dav("PROPFIND", "/dav/", { headers: { depth: "0" }, body: bomb })).status).toBe(400);
  });
});

describe("WebDAV PROPPATCH", () => {
  it("keeps dead properties, namespaces and all, and removes them", async () => {
    await dav("PUT", "/dav/props.txt", { body: "p" });
    const set = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:author>Ada &amp; <Z:b>Bob</Z:b></Z:author></D:prop></D:set></D:propertyupdate>`;
    const res = await dav("PROPPATCH", "/dav/props.txt", { body: set });
    expect(res.status).toBe(207);
    expect(await res.text()).toContain("HTTP/1.1 200 OK");
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><author xmlns="urn:z"/></D:prop></D:propfind>`;
    const xml = await (await dav("PROPFIND", "/dav/props.txt", { headers: { depth: "0" }, body: ask })).text();
    expect(xml).toMatch(/<(ns\d):author xmlns:\1="urn:z">Ada &amp; <\1:b>Bob<\/\1:b><\/\1:author>/);
    const remove = `<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><author xmlns="urn:z"/></D:prop></D:remove></D:propertyupdate>`;
    await dav("PROPPATCH", "/dav/props.txt", { body: remove });
    expect(await (await dav("PROPFIND", "/dav/props.txt", { headers: { depth: "0" }, body: ask })).text()).toContain("404 Not Found");
  });

  it("refuses to change a live property (403) and changes nothing else (424)", async () => {
    const body = `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag><mine xmlns="urn:m">v</mine></D:prop></D:set></D:propertyupdate>`;
    const xml = await (await dav("PROPPATCH", "/dav/props.txt", { body })).text();
    expect(xml).toContain("403 Forbidden");
    expect(xml).toContain("424 Failed Dependency");
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><mine xmlns="urn:m"/></D:prop></D:propfind>`;
    expect(await (await dav("PROPFIND", "/dav/props.txt", { headers: { depth: "0" }, body: ask })).text()).toContain("404 Not Found");
  });
});

describe("WebDAV COPY and MOVE", () => {
  it("copies a file, 412 with Overwrite F on an existing target, 204 when it overwrites", async () => {
    await dav("PUT", "/dav/src.txt", { body: "source" });
    const first = await dav("COPY", "/dav/src.txt", { headers: { destination: `${BASE}/dav/dst.txt` } });
    expect(first.status).toBe(201);
    const refused = await dav("COPY", "/dav/src.txt", { headers: { destination: `${BASE}/dav/dst.txt`, overwrite: "F" } });
    expect(refused.status).toBe(412);
    expect((await errorOf(refused)).code).toBe("precondition_failed");
    const again = await dav("COPY", "/dav/src.txt", { headers: { destination: `${BASE}/dav/dst.txt`, overwrite: "T" } });
    expect(again.status).toBe(204);
    expect(await (await env.FILES.get("dst.txt"))!.text()).toBe("source");
  });

  it("moves a folder as a whole, with its dead properties, to a name with spaces and unicode", async () => {
    await dav("MKCOL", "/dav/mv");
    await dav("MKCOL", "/dav/mv/inner");
    await dav("PUT", "/dav/mv/inner/a.txt", { body: "a" });
    await dav("PUT", "/dav/mv/b.txt", { body: "b" });
    const set = `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><tag xmlns="urn:t">kept</tag></D:prop></D:set></D:propertyupdate>`;
    await dav("PROPPATCH", "/dav/mv/b.txt", { body: set });
    const target = `/dav/${encodeURIComponent("Moved Ω")}`;
    const res = await dav("MOVE", "/dav/mv/", { headers: { destination: `${BASE}${target}/` } });
    expect(res.status).toBe(201);
    expect((await env.FILES.list({ prefix: "mv/" })).objects).toEqual([]);
    const keys = (await env.FILES.list({ prefix: "Moved Ω/" })).objects.map((o) => o.key).sort();
    expect(keys).toEqual(["Moved Ω/", "Moved Ω/b.txt", "Moved Ω/inner/", "Moved Ω/inner/a.txt"]);
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><tag xmlns="urn:t"/></D:prop></D:propfind>`;
    expect(await (await dav("PROPFIND", `${target}/b.txt`, { headers: { depth: "0" }, body: ask })).text()).toContain(">kept<");
  });

  it("copies a folder at Depth 0 without its members", async () => {
    await dav("MKCOL", "/dav/shallow");
    await dav("PUT", "/dav/shallow/x.txt", { body: "x" });
    expect((await dav("COPY", "/dav/shallow", { headers: { destination: "/dav/shallow2", depth: "0" } })).status).toBe(201);
    expect((await env.FILES.list({ prefix: "shallow2/" })).objects.map((o) => o.key)).toEqual(["shallow2/"]);
  });

  it("refuses MOVE at Depth 0, a missing Destination, and a destination folder that does not exist", async () => {
    expect((await dav("MOVE", "/dav/src.txt", { headers: { destination: "/dav/x.txt", depth: "0" } })).status).toBe(400);
    expect((await dav("MOVE", "/dav/src.txt")).status).toBe(400);
    expect((await dav("MOVE", "/dav/src.txt", { headers: { destination: "/dav/nowhere/x.txt" } })).status).toBe(409);
  });
});

describe("WebDAV LOCK and UNLOCK", () => {
  it("locks a file: writes without the token are 423, with a wrong token 423, with it they pass", async () => {
    await dav("PUT", "/dav/locked.txt", { body: "v1" });
    const { res, token } = await lockOf("/dav/locked.txt");
    expect(res.status).toBe(200);
    expect(token).toMatch(/^urn:uuid:/);
    expect(await res.text()).toContain(`<D:href>${token}</D:href>`);

    const without = await dav("PUT", "/dav/locked.txt", { body: "v2" });
    expect(without.status).toBe(423);
    expect((await errorOf(without)).code).toBe("locked");
    const wrong = await dav("PUT", "/dav/locked.txt", { body: "v2", headers: { if: "(<urn:uuid:00000000-0000-0000-0000-000000000000>)" } });
    expect(wrong.status).toBe(412);
    const wrongButTrue = await dav("PUT", "/dav/locked.txt", {
      body: "v2",
      headers: { if: "(<urn:uuid:00000000-0000-0000-0000-000000000000>) (Not <DAV:no-lock>)" },
    });
    expect(wrongButTrue.status).toBe(423);
    expect((await dav("DELETE", "/dav/locked.txt")).status).toBe(423);
    expect(
      (
        await dav("PROPPATCH", "/dav/locked.txt", {
          body: `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><a xmlns="urn:a">1</a></D:prop></D:set></D:propertyupdate>`,
        })
      ).status,
    ).toBe(423);
    expect((await dav("MOVE", "/dav/locked.txt", { headers: { destination: "/dav/elsewhere.txt" } })).status).toBe(423);

    const withToken = await dav("PUT", "/dav/locked.txt", { body: "v2", headers: { if: `(<${token}>)` } });
    expect(withToken.status).toBe(204);
    expect((await dav("UNLOCK", "/dav/locked.txt", { headers: { "lock-token": `<${token}>` } })).status).toBe(204);
    expect((await dav("PUT", "/dav/locked.txt", { body: "v3" })).status).toBe(204);
  });

  it("answers 423 to a second exclusive lock and grants shared locks together", async () => {
    await dav("PUT", "/dav/shared.txt", { body: "s" });
    const first = await lockOf("/dav/shared.txt", "shared");
    const second = await lockOf("/dav/shared.txt", "shared");
    expect(first.res.status).toBe(200);
    expect(second.res.status).toBe(200);
    expect((await lockOf("/dav/shared.txt", "exclusive")).res.status).toBe(423);
  });

  it("lists the lock in lockdiscovery, refreshes it, and refuses UNLOCK with an unknown token (409)", async () => {
    await dav("PUT", "/dav/disc.txt", { body: "d" });
    const { token } = await lockOf("/dav/disc.txt", "exclusive", { timeout: "Second-100" });
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`;
    const xml = await (await dav("PROPFIND", "/dav/disc.txt", { headers: { depth: "0" }, body: ask })).text();
    expect(xml).toContain(token);
    expect(xml).toContain("<D:owner>tester</D:owner>");
    const refresh = await dav("LOCK", "/dav/disc.txt", { headers: { if: `(<${token}>)`, timeout: "Second-500" } });
    expect(refresh.status).toBe(200);
    expect(await refresh.text()).toMatch(/Second-(500|499)/);
    expect((await dav("UNLOCK", "/dav/disc.txt", { headers: { "lock-token": "<urn:uuid:nope>" } })).status).toBe(409);
  });

  it("protects a folder's members with a depth-infinity lock, and creates a file on an unmapped LOCK", async () => {
    await dav("MKCOL", "/dav/lockdir");
    const { token } = await lockOf("/dav/lockdir/", "exclusive", { depth: "infinity" });
    expect((await dav("PUT", "/dav/lockdir/new.txt", { body: "n" })).status).toBe(423);
    expect((await dav("PUT", "/dav/lockdir/new.txt", { body: "n", headers: { if: `</dav/lockdir/> (<${token}>)` } })).status).toBe(201);
    await dav("UNLOCK", "/dav/lockdir/", { headers: { "lock-token": `<${token}>` } });
    const unmapped = await lockOf("/dav/lockdir/fresh.txt");
    expect(unmapped.res.status).toBe(201);
    expect((await env.FILES.head("lockdir/fresh.txt"))?.size).toBe(0);
  });

  it("lets a lock lapse at its timeout: the file is writable again without its token", async () => {
    await dav("PUT", "/dav/lapse.txt", { body: "l" });
    const { res } = await lockOf("/dav/lapse.txt", "exclusive", { timeout: "Second-2" });
    expect(res.status).toBe(200);
    expect((await dav("PUT", "/dav/lapse.txt", { body: "m" })).status).toBe(423);
    let status = 423;
    for (let i = 0; i < 300 && status === 423; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await dav("PUT", "/dav/lapse.txt", { body: "m" })).status;
    }
    expect(status).toBe(204);
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`;
    expect(await (await dav("PROPFIND", "/dav/lapse.txt", { headers: { depth: "0" }, body: ask })).text()).not.toContain("activelock");
  });

  it("grants Windows' Timeout: Infinite as the longest lock (7 days)", async () => {
    await dav("PUT", "/dav/win.txt", { body: "w" });
    const { res } = await lockOf("/dav/win.txt", "exclusive", { timeout: "Infinite, Second-4100000000" });
    expect(await res.text()).toMatch(/<D:timeout>Second-60480\d<\/D:timeout>/);
  });

  it("evaluates an If list tagged with another server's resource (no lock there), not a 400", async () => {
    await dav("PUT", "/dav/tagged.txt", { body: "t" });
    const elsewhere = await dav("PUT", "/dav/tagged.txt", { body: "u", headers: { if: "<http://other.example/dav/x> (<urn:uuid:x>)" } });
    expect(elsewhere.status).toBe(412);
    const either = await dav("PUT", "/dav/tagged.txt", {
      body: "u",
      headers: { if: `<http://other.example/dav/x> (<urn:uuid:x>) <${BASE}/dav/tagged.txt> (Not <DAV:no-lock>)` },
    });
    expect(either.status).toBe(204);
  });

  it("answers 412 when an If etag does not match", async () => {
    await dav("PUT", "/dav/etag.txt", { body: "e" });
    const etag = (await dav("HEAD", "/dav/etag.txt")).headers.get("etag");
    expect((await dav("PUT", "/dav/etag.txt", { body: "f", headers: { if: `(["nope"])` } })).status).toBe(412);
    expect((await dav("PUT", "/dav/etag.txt", { body: "f", headers: { if: `([${etag}])` } })).status).toBe(204);
  });
});

describe("WebDAV as desktop clients use it", () => {
  it("takes a file as Finder copies it: empty PUT, LOCK, chunked PUT with the token, AppleDouble, UNLOCK", async () => {
    expect((await dav("PUT", "/dav/finder-copy.jpg", { body: "" })).status).toBe(201);
    const { token } = await lockOf("/dav/finder-copy.jpg", "exclusive", { timeout: "Second-600", depth: "0" });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(text("jpeg "));
        c.enqueue(text("bytes"));
        c.close();
      },
    });
    const put = await dav("PUT", "/dav/finder-copy.jpg", { body, headers: { "x-expected-entity-length": "10", if: `(<${token}>)` } });
    expect(put.status).toBe(204);
    expect((await dav("PUT", "/dav/._finder-copy.jpg", { body: "\u0000\u0005\u0016\u0007" })).status).toBe(201);
    expect((await dav("UNLOCK", "/dav/finder-copy.jpg", { headers: { "lock-token": `<${token}>` } })).status).toBe(204);
    expect(await (await env.FILES.get("finder-copy.jpg"))!.text()).toBe("jpeg bytes");
  });

  it("takes a file as Windows saves it: LOCK Infinite, PUT with the token, Win32 properties, UNLOCK", async () => {
    await dav("PUT", "/dav/report.docx", { body: "v1" });
    const { token } = await lockOf("/dav/report.docx", "exclusive", { timeout: "Infinite, Second-4100000000" });
    expect((await dav("PUT", "/dav/report.docx", { body: "v2", headers: { if: `(<${token}>)` } })).status).toBe(204);
    const win32 = `<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Mon, 30 Nov 2026 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`;
    const patch = await dav("PROPPATCH", "/dav/report.docx", { body: win32, headers: { if: `(<${token}>)` } });
    expect(await patch.text()).toContain("200 OK");
    expect((await dav("UNLOCK", "/dav/report.docx", { headers: { "lock-token": `<${token}>` } })).status).toBe(204);
    const ask = `<D:propfind xmlns:D="DAV:"><D:prop><Win32FileAttributes xmlns="urn:schemas-microsoft-com:"/></D:prop></D:propfind>`;
    expect(await (await dav("PROPFIND", "/dav/report.docx", { headers: { depth: "0" }, body: ask })).text()).toContain("00000020");
  });
});
