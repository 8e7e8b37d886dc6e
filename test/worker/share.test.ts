import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PEER2 } from "../support/peers";
import { call, errorOf, peer2, putFile, sha256 } from "../support/http";
import { outboundRequests } from "../support/outbound";

interface Link {
  url: string;
  expires: string;
}

async function share(name: string, ttl?: number): Promise<Link> {
  const res = await call(`/api/files/${name}/share`, { method: "POST", body: JSON.stringify(ttl ? { ttl } : {}) });
  expect(res.status).toBe(200);
  return res.json();
}

describe("POST /api/files/{name}/share", () => {
  it("signs a link that reads the file without a token", async () => {
    await putFile("shared/report.txt", "shared bytes");
    const link = await share("shared/report.txt");
    expect(link.url).toMatch(/^http:\/\/local\.test\/api\/files\/shared\/report\.txt\?expires=\d+&id=[0-9a-f]{32}&sig=[0-9a-f]{64}$/);
    const expires = Date.parse(link.expires);
    expect(expires - Date.now()).toBeGreaterThan(3500_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    const res = await SELF.fetch(link.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("shared bytes");
  });

  it("honours the ttl and refuses one above 7 days with 400", async () => {
    await putFile("ttl.txt", "t");
    const before = Date.now();
    const link = await share("ttl.txt", 60);
    const after = Date.now();
    // Whole seconds: 60 s from the request, not less (a link that expires at once fails here).
    expect(Date.parse(link.expires)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 60_000);
    expect(Date.parse(link.expires)).toBeLessThanOrEqual(after + 60_000);
    const res = await call("/api/files/ttl.txt/share", { method: "POST", body: JSON.stringify({ ttl: 604801 }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it("answers 404 when sharing a missing file", async () => {
    const res = await call("/api/files/missing.txt/share", { method: "POST" });
    expect(res.status).toBe(404);
  });

  it("refuses a link used for another file with 403", async () => {
    await putFile("one.txt", "1");
    await putFile("two.txt", "2");
    const link = new URL((await share("one.txt")).url);
    link.pathname = "/api/files/two.txt";
    const res = await SELF.fetch(link);
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("forbidden");
  });

  it("refuses a tampered signature or expiry with 403", async () => {
    await putFile("t.txt", "t");
    const link = new URL((await share("t.txt")).url);
    const sig = link.searchParams.get("sig")!;
    const flipped = new URL(link);
    flipped.searchParams.set("sig", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    expect((await SELF.fetch(flipped)).status).toBe(403);
    const later = new URL(link);
    later.searchParams.set("expires", String(Number(link.searchParams.get("expires")) + 3600));
    expect((await SELF.fetch(later)).status).toBe(403);
  });

  it("refuses an expired link with 403", async () => {
    await putFile("old.txt", "o");
    const link = new URL((await share("old.txt", 1)).url);
    await new Promise((r) => setTimeout(r, 2100));
    const res = await SELF.fetch(link);
    expect(res.status).toBe(403);
    expect((await errorOf(res)).message).toContain("expired");
  });

  it("refuses a link used with another method with 403", async () => {
    await putFile("m.txt", "m");
    const link = (await share("m.txt")).url;
    for (const method of ["PUT", "DELETE"]) {
      const res = await SELF.fetch(link, { method, body: method === "PUT" ? "overwrite" : undefined });
      expect(res.status, method).toBe(403);
    }
    expect(await (await env.FILES.get("m.txt"))!.text()).toBe("m");
  });

  it("judges a bearer request by its token even with a stray sig", async () => {
    await putFile("stray.txt", "s");
    const res = await call("/api/files/stray.txt?expires=1&sig=00", { method: "DELETE" });
    expect(res.status).toBe(204);
  });

  it("refuses a link signed by another peer", async () => {
    const put = await peer2("/api/files/theirs.txt", { method: "PUT", body: "theirs" });
    expect(put.status).toBe(201);
    const theirs = (await (await peer2("/api/files/theirs.txt/share", { method: "POST" })).json()) as Link;
    await putFile("theirs.txt", "mine");
    const res = await SELF.fetch(theirs.url.replace(PEER2.url, "http://local.test"));
    expect(res.status).toBe(403);
  });
});

describe("POST /api/files/{name}/pull", () => {
  async function sharedOnPeer2(name: string, body: string): Promise<string> {
    expect((await peer2(`/api/files/${name}`, { method: "PUT", body })).status).toBe(201);
    const res = await peer2(`/api/files/${name}/share`, { method: "POST" });
    return ((await res.json()) as Link).url;
  }

  it("pulls a file from a known peer's signed link and verifies its SHA-256", async () => {
    const from = await sharedOnPeer2("to-pull.txt", "pulled across peers");
    const res = await call("/api/files/copies/pulled.txt/pull", { method: "POST", body: JSON.stringify({ from }) });
    expect(res.status).toBe(201);
    const meta = (await res.json()) as { name: string; size: number; sha256: string };
    expect(meta).toMatchObject({ name: "copies/pulled.txt", size: 19, sha256: await sha256("pulled across peers") });
    expect(await (await env.FILES.get("copies/pulled.txt"))!.text()).toBe("pulled across peers");
  });

  it("checks a single-part source by its MD5 etag, a multipart one by its SHA-256", async () => {
    const from = await sharedOnPeer2("single.txt", "one part");
    expect((await call("/api/files/single.txt/pull", { method: "POST", body: JSON.stringify({ from }) })).status).toBe(201);
    const single = (await env.FILES.head("single.txt"))!;
    const sourceEtag = (await peer2("/api/files/single.txt", { method: "HEAD" })).headers.get("etag");
    expect(`"${toHexString(single.checksums.md5!)}"`).toBe(sourceEtag);
    expect(single.checksums.sha256).toBeUndefined();
    expect(single.customMetadata?.sha256).toBe(await sha256("one part"));

    const bytes = new Uint8Array(5 * 1024 * 1024 + 10).fill(9);
    const created = (await (await peer2("/api/uploads", { method: "POST", body: JSON.stringify({ name: "multi.bin" }) })).json()) as {
      uploadId: string;
    };
    const partPath = (n: number) => `/api/uploads/${encodeURIComponent(created.uploadId)}/parts/${n}?name=multi.bin`;
    const parts = [
      await (await peer2(partPath(1), { method: "PUT", body: bytes.subarray(0, 5 * 1024 * 1024) })).json(),
      await (await peer2(partPath(2), { method: "PUT", body: bytes.subarray(5 * 1024 * 1024) })).json(),
    ];
    const done = await peer2(`/api/uploads/${encodeURIComponent(created.uploadId)}/complete?name=multi.bin`, {
      method: "POST",
      body: JSON.stringify({ parts }),
    });
    expect(done.status).toBe(201);
    const link = ((await (await peer2("/api/files/multi.bin/share", { method: "POST" })).json()) as Link).url;
    const res = await call("/api/files/multi.bin/pull", { method: "POST", body: JSON.stringify({ from: link }) });
    expect(res.status).toBe(201);
    const multi = (await env.FILES.head("multi.bin"))!;
    expect(toHexString(multi.checksums.sha256!)).toBe(await sha256(bytes));
  });

  it("refuses a link whose origin is not a known peer with 403 and fetches nothing", async () => {
    const sent = (await outboundRequests()).length;
    const res = await call("/api/files/evil.txt/pull", {
      method: "POST",
      body: JSON.stringify({ from: "http://attacker.test/api/files/x?expires=1&sig=00" }),
    });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("forbidden");
    expect(await env.FILES.head("evil.txt")).toBeNull();
    expect((await outboundRequests()).slice(sent)).toEqual([]);
  });

  it("does not follow a redirect from the source: 502, the target is never fetched, nothing stored", async () => {
    const target = await sharedOnPeer2("behind-redirect.txt", "reached through a redirect");
    const from = new URL(`${PEER2.url}/api/files/redirecting.txt`);
    from.searchParams.set("__redirect", target);
    const sent = (await outboundRequests()).length;
    const res = await call("/api/files/redirected.txt/pull", { method: "POST", body: JSON.stringify({ from: from.toString() }) });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.code).toBe("upstream_failed");
    expect(error.message).toContain("redirect");
    expect(await env.FILES.head("redirected.txt")).toBeNull();
    // The source was asked once; the place it pointed to, never.
    expect((await outboundRequests()).slice(sent)).toEqual([{ method: "GET", url: from.toString() }]);
  });

  it.each([
    ["no from", {}],
    ["a non-URL", { from: "not a url" }],
    ["a non-http scheme", { from: "file:///etc/passwd" }],
  ])("refuses %s with 400", async (_why, body) => {
    const res = await call("/api/files/p.txt/pull", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
  });

  it("refuses a known peer's URL that is not a file link with 400", async () => {
    const res = await call("/api/files/p.txt/pull", { method: "POST", body: JSON.stringify({ from: `${PEER2.url}/api/memory` }) });
    expect(res.status).toBe(400);
  });

  it("answers 502 and stores nothing when the source refuses the link", async () => {
    const from = new URL(await sharedOnPeer2("refused.txt", "x"));
    from.searchParams.set("sig", "0".repeat(64));
    const res = await call("/api/files/refused.txt/pull", { method: "POST", body: JSON.stringify({ from: from.toString() }) });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.code).toBe("upstream_failed");
    expect(error.message).toContain("403");
    expect(await env.FILES.head("refused.txt")).toBeNull();
  });

  it("keeps the previous version when a pull fails", async () => {
    await putFile("kept.txt", "previous");
    const from = new URL(await sharedOnPeer2("kept.txt", "new"));
    from.pathname = "/api/files/absent-on-peer2.txt";
    const res = await call("/api/files/kept.txt/pull", { method: "POST", body: JSON.stringify({ from: from.toString() }) });
    expect(res.status).toBe(502);
    expect(await (await env.FILES.get("kept.txt"))!.text()).toBe("previous");
  });
});

describe("isolation between peers", () => {
  it("keeps files and memory private to each peer", async () => {
    await putFile("private.txt", "local only");
    await call("/api/memory/secret", { method: "PUT", body: JSON.stringify({ value: 42 }) });
    expect((await peer2("/api/files/private.txt")).status).toBe(404);
    expect((await peer2("/api/memory/secret")).status).toBe(404);
    const list = (await (await peer2("/api/files")).json()) as { files: Array<{ name: string }> };
    expect(list.files.map((f) => f.name)).not.toContain("private.txt");
  });
});

function toHexString(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
