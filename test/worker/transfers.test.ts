import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { storageUsage } from "../../src/storage/quota";
import { BASE, call, errorOf, mintToken, peer2, putFile, sha256, storedBytes } from "../support/http";
import { outboundRequests } from "../support/outbound";
import { watchedQuota } from "../support/quota";
import { PEER2, TEST_TOKEN } from "../support/peers";

interface TransferLink {
  name: string;
  url: string;
  etag: string;
  size?: number;
  sha256?: string | null;
  expires: string;
}
interface PullResult {
  name: string;
  ok: boolean;
  file?: { name: string; size: number; sha256: string | null };
  error?: { code: string; message: string };
}

async function links(body: unknown, token?: string): Promise<Response> {
  return call("/api/links", { method: "POST", body: JSON.stringify(body), token });
}

/** Files put on peer2, and their links signed there by name. */
async function onPeer2(files: Record<string, string | Uint8Array>): Promise<TransferLink[]> {
  for (const [name, body] of Object.entries(files)) expect((await peer2(`/api/files/${name}`, { method: "PUT", body })).status).toBe(201);
  const res = await peer2("/api/links", { method: "POST", body: JSON.stringify({ names: Object.keys(files) }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { links: TransferLink[] }).links;
}

const item = (link: TransferLink, name: string, extra: Record<string, unknown> = {}) => ({
  from: link.url,
  name,
  size: link.size,
  sha256: link.sha256 ?? undefined,
  ...extra,
});

async function pulls(items: unknown[], token?: string): Promise<Response> {
  return call("/api/pulls", { method: "POST", body: JSON.stringify({ items }), token });
}

describe("POST /api/links", () => {
  it("signs a version-bound link per name, says which names are missing, and registers nothing", async () => {
    await putFile("tl/a.txt", "alpha");
    await putFile("tl/b.txt", "bravo!");
    const res = await links({ names: ["tl/a.txt", "tl/absent.txt", "tl/b.txt"], ttl: 60 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { links: TransferLink[]; missing: string[] };
    expect(body.missing).toEqual(["tl/absent.txt"]);
    expect(body.links.map((l) => l.name)).toEqual(["tl/a.txt", "tl/b.txt"]);
    const [a] = body.links;
    expect(a).toMatchObject({ size: 5, sha256: await sha256("alpha"), etag: (await env.FILES.head("tl/a.txt"))!.etag });
    expect(Date.parse(a!.expires) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(a!.url).toMatch(/^http:\/\/local\.test\/api\/files\/tl\/a\.txt\?expires=\d+&v=[0-9a-f]+&sig=[0-9a-f]{64}$/);
    const got = await SELF.fetch(a!.url);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("alpha");
    // Not in the share registry: not listed, not revocable one by one.
    const shares = (await (await call("/api/shares")).json()) as { shares: Array<{ name: string }> };
    expect(shares.shares.map((s) => s.name)).not.toContain("tl/a.txt");
  });

  it("signs from a listing's etags without reading the files; a stale etag's link is 410", async () => {
    await putFile("tl/listed.txt", "v1");
    const listed = (await env.FILES.head("tl/listed.txt"))!.etag;
    const res = await links({ files: [{ name: "tl/listed.txt", etag: listed }] });
    expect(res.status).toBe(200);
    const [link] = ((await res.json()) as { links: TransferLink[] }).links;
    expect(link).toMatchObject({ name: "tl/listed.txt", etag: listed });
    expect(link!.size).toBeUndefined();
    expect(Date.parse(link!.expires) - Date.now()).toBeGreaterThan(800_000);
    expect(Date.parse(link!.expires) - Date.now()).toBeLessThanOrEqual(900_000);
    expect(await (await SELF.fetch(link!.url)).text()).toBe("v1");
    await putFile("tl/listed.txt", "v2");
    const stale = await SELF.fetch(link!.url);
    expect(stale.status).toBe(410);
    expect((await errorOf(stale)).code).toBe("gone");
  });

  it("refuses the whole request with 403 when a scoped token reads outside its prefix", async () => {
    await putFile("mine/x.txt", "x");
    await putFile("theirs/y.txt", "y");
    const token = await mintToken(["read"], "mine/");
    const refused = await links({ names: ["mine/x.txt", "theirs/y.txt"] }, token);
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe("forbidden");
    const etag = (await env.FILES.head("theirs/y.txt"))!.etag;
    expect((await links({ files: [{ name: "theirs/y.txt", etag }] }, token)).status).toBe(403);
    expect((await links({ names: ["mine/x.txt"] }, token)).status).toBe(200);
    expect((await links({ names: ["mine/x.txt"] }, await mintToken(["write"], "mine/"))).status).toBe(403);
  });

  it("refuses a scoped token's list past the route's limit before the guard checks any entry (400, not a walk of every name)", async () => {
    const outside = (n: number) => Array.from({ length: n }, (_, i) => `theirs/${i}.txt`);
    const reader = await mintToken(["read"], "mine/");
    // Within the limit, an entry outside the prefix is what the guard refuses.
    expect((await links({ names: outside(1000) }, reader)).status).toBe(403);
    const tooMany = await links({ names: outside(1001) }, reader);
    expect(tooMany.status).toBe(400);
    expect((await errorOf(tooMany)).message).toContain("at most 1000");
    const writer = await mintToken(["write"], "drop/");
    const items = outside(101).map((name) => ({ from: "http://peer2.test/api/files/x", name, size: 1 }));
    expect((await pulls(items, writer)).status).toBe(400);
    const zip = await call("/api/zip", { method: "POST", body: JSON.stringify({ names: outside(10_001) }), token: reader });
    expect(zip.status).toBe(400);
  });

  it("reads a scoped token's body only up to the route's own limit (413 as the handler, not a parse of 16 MiB)", async () => {
    const MiB = 1024 * 1024;
    // A JSON start, blanks to past the route's limit, then bytes that make it invalid JSON:
    // read whole (as a 16 MiB guard would) it is a 400; read up to the limit, a 413.
    const overLimit = (limit: number) => `{"items": [${" ".repeat(limit)}!!! not JSON`;
    /** The same bytes without a Content-Length: only reading tells they are too many. */
    const streamed = (text: string) => {
      const bytes = new TextEncoder().encode(text);
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) return controller.close();
          controller.enqueue(bytes.subarray(at, at + 64 * 1024));
          at += 64 * 1024;
        },
      });
    };
    const writer = await mintToken(["write"], "drop/");
    const reader = await mintToken(["read"], "mine/");
    for (const [path, limit, token] of [
      ["/api/pulls", 2 * MiB, writer],
      ["/api/links", 6 * MiB, reader],
    ] as const) {
      const body = overLimit(limit);
      for (const sent of [body, streamed(body)]) {
        const res = await call(path, { method: "POST", body: sent, token });
        expect(res.status, path).toBe(413);
        const error = await errorOf(res);
        expect(error.code).toBe("payload_too_large");
        expect(error.message).toContain(`limit`);
        expect(error.message).toContain(String(limit));
      }
    }
  });

  it("binds a scoped token's links to the token: revoked → 410, never past its expiry, the binding cannot be cut off", async () => {
    await putFile("mine/bound.txt", "bound");
    const minted = await call("/api/tokens", { method: "POST", body: JSON.stringify({ ops: ["read"], prefix: "mine/", ttl: 120 }) });
    const { token, id, expires } = (await minted.json()) as { token: string; id: string; expires: string };
    const res = await links({ names: ["mine/bound.txt"], ttl: 3600 }, token);
    expect(res.status).toBe(200);
    const [link] = ((await res.json()) as { links: TransferLink[] }).links;
    // Capped at the token's own expiry, not the hour asked for.
    expect(Date.parse(link!.expires)).toBeLessThanOrEqual(Date.parse(expires));
    expect(Number(new URL(link!.url).searchParams.get("expires")) * 1000).toBeLessThanOrEqual(Date.parse(expires));
    expect(new URL(link!.url).searchParams.get("t")).toBe(id);
    expect(await (await SELF.fetch(link!.url)).text()).toBe("bound");
    // Dropping or swapping the token id breaks the signature.
    const cut = new URL(link!.url);
    cut.searchParams.delete("t");
    expect((await SELF.fetch(cut)).status).toBe(403);
    const other = await call("/api/tokens", { method: "POST", body: JSON.stringify({ ops: ["read"], prefix: "mine/" }) });
    const swapped = new URL(link!.url);
    swapped.searchParams.set("t", ((await other.json()) as { id: string }).id);
    expect((await SELF.fetch(swapped)).status).toBe(403);
    // Nor can the id be folded into the version to pass as the peer's own link.
    const folded = new URL(link!.url);
    folded.searchParams.delete("t");
    folded.searchParams.set("v", `${link!.etag}\ntoken:${id}`);
    expect((await SELF.fetch(folded)).status).toBe(403);

    expect((await call(`/api/tokens/${id}`, { method: "DELETE" })).status).toBe(204);
    const revoked = await SELF.fetch(link!.url);
    expect(revoked.status).toBe(410);
    expect((await errorOf(revoked)).code).toBe("gone");
    expect((await SELF.fetch(link!.url, { method: "HEAD" })).status).toBe(410);
  });

  it("keeps the peer token's links free of any token binding", async () => {
    await putFile("tl/peer.txt", "peer's");
    const [link] = ((await (await links({ names: ["tl/peer.txt"], ttl: 3600 })).json()) as { links: TransferLink[] }).links;
    expect(new URL(link!.url).searchParams.has("t")).toBe(false);
    expect(Date.parse(link!.expires) - Date.now()).toBeGreaterThan(3_500_000);
    expect(await (await SELF.fetch(link!.url)).text()).toBe("peer's");
  });

  it.each([
    ["more than 1000 names", { names: Array.from({ length: 1001 }, (_, i) => `n/${i}`) }],
    ["no names", { names: [] }],
    ["names and files at once", { names: ["a"], files: [{ name: "a", etag: "00" }] }],
    ["a ttl over an hour", { names: ["a"], ttl: 3601 }],
    ["a name the contract refuses", { names: ["../up"] }],
    ["an etag that is not one", { files: [{ name: "a", etag: '"x" y' }] }],
  ])("refuses %s with 400", async (_why, body) => {
    const res = await links(body);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });
});

describe("POST /api/pulls", () => {
  it("pulls every item from a known peer's links, verified, and answers each file", async () => {
    const [a, b] = await onPeer2({ "bp/a.txt": "first file", "bp/b.txt": "second" });
    const res = await pulls([item(a!, "got/a.txt"), item(b!, "got/b.txt")]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results).toEqual([
      { name: "got/a.txt", ok: true, file: expect.objectContaining({ name: "got/a.txt", size: 10, sha256: await sha256("first file") }) },
      { name: "got/b.txt", ok: true, file: expect.objectContaining({ name: "got/b.txt", size: 6, sha256: await sha256("second") }) },
    ]);
    expect(await (await env.FILES.get("got/a.txt"))!.text()).toBe("first file");
    expect(await (await env.FILES.get("got/b.txt"))!.text()).toBe("second");
  });

  it("fails an item whose source changed since its link (410 gone) and still pulls the others", async () => {
    const [stale, fresh] = await onPeer2({ "bp/stale.txt": "old", "bp/fresh.txt": "fresh" });
    expect((await peer2("/api/files/bp/stale.txt", { method: "PUT", body: "new version" })).status).toBe(201);
    const res = await pulls([item(stale!, "got/stale.txt"), item(fresh!, "got/fresh.txt")]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ name: "got/stale.txt", ok: false, error: { code: "gone" } });
    expect(results[1]).toMatchObject({ name: "got/fresh.txt", ok: true });
    expect(await env.FILES.head("got/stale.txt")).toBeNull();
    expect(await (await env.FILES.get("got/fresh.txt"))!.text()).toBe("fresh");
  });

  it("fails an item whose expected SHA-256 does not match alone, storing nothing for it", async () => {
    const [bad, good] = await onPeer2({ "bp/bad.txt": "bytes", "bp/good.txt": "goods" });
    await putFile("got/bad.txt", "previous");
    const res = await pulls([item(bad!, "got/bad.txt", { sha256: await sha256("other bytes") }), item(good!, "got/good.txt")]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ ok: false, error: { code: "checksum_mismatch" } });
    expect(results[1]).toMatchObject({ ok: true });
    expect(await (await env.FILES.get("got/bad.txt"))!.text()).toBe("previous");
  });

  it("fails an item whose source sends another size than declared", async () => {
    const [link] = await onPeer2({ "bp/sized.txt": "twelve bytes" });
    const res = await pulls([item(link!, "got/sized.txt", { size: 3 })]);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ ok: false, error: { code: "precondition_failed" } });
    expect(await env.FILES.head("got/sized.txt")).toBeNull();
  });

  it("fails an item from an unknown origin without fetching it", async () => {
    const sent = (await outboundRequests()).length;
    const res = await pulls([{ from: "http://attacker.test/api/files/x?expires=1&sig=00", name: "got/evil.txt", size: 1 }]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect((await outboundRequests()).slice(sent)).toEqual([]);
  });

  it("refuses the whole batch with 403 when a scoped token writes outside its prefix, fetching nothing", async () => {
    const [a] = await onPeer2({ "bp/scoped.txt": "scoped" });
    const token = await mintToken(["write"], "drop/");
    const sent = (await outboundRequests()).length;
    const res = await pulls([item(a!, "drop/in.txt"), item(a!, "elsewhere/out.txt")], token);
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("forbidden");
    expect((await outboundRequests()).slice(sent)).toEqual([]);
    expect(await env.FILES.head("drop/in.txt")).toBeNull();
    const ok = await pulls([item(a!, "drop/in.txt")], token);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { results: PullResult[] }).results[0]?.ok).toBe(true);
  });

  it("refuses a batch over the storage quota with 413, fetching and storing nothing", async () => {
    const limited = { ...env, PEER_NAME: "transfers-quota", STORAGE_LIMIT_MB: "1" };
    const [a, b] = await onPeer2({ "bp/big-a.bin": new Uint8Array(600 * 1024), "bp/big-b.bin": new Uint8Array(600 * 1024) });
    const sent = (await outboundRequests()).length;
    const request = new Request(`${BASE}/api/pulls`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify({ items: [item(a!, "q/a.bin"), item(b!, "q/b.bin")] }),
    }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, limited, createExecutionContext());
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expect(await env.FILES.head("q/a.bin")).toBeNull();
    expect(await env.FILES.head("q/b.bin")).toBeNull();
    expect((await outboundRequests()).slice(sent)).toEqual([]);
  });

  it("fails an item whose source hangs once its deadline passes, and still pulls the others", async () => {
    const [a] = await onPeer2({ "bp/prompt.txt": "prompt" });
    const hung = { from: `${PEER2.url}/api/files/bp/hung.bin?__hang=1`, name: "got/hung.bin", size: 10 };
    const request = new Request(`${BASE}/api/pulls`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify({ items: [hung, item(a!, "got/prompt.txt")] }),
    }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, { ...env, PULL_ITEM_MS: "300" }, createExecutionContext());
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ name: "got/hung.bin", ok: false, error: { code: "upstream_failed" } });
    expect(results[1]).toMatchObject({ name: "got/prompt.txt", ok: true });
    expect(await env.FILES.head("got/hung.bin")).toBeNull();
  });

  it("refuses items over 16 MiB, or batches over 64 MiB, with 400, fetching nothing", async () => {
    const sent = (await outboundRequests()).length;
    const from = `${PEER2.url}/api/files/x`;
    const big = await pulls([{ from, name: "big.bin", size: 16 * 1024 * 1024 + 1 }]);
    expect(big.status).toBe(400);
    expect((await errorOf(big)).code).toBe("bad_request");
    const many = await pulls(Array.from({ length: 5 }, (_, i) => ({ from, name: `many/${i}.bin`, size: 16 * 1024 * 1024 })));
    expect(many.status).toBe(400);
    expect((await errorOf(many)).message).toMatch(/64 MiB/);
    expect((await outboundRequests()).slice(sent)).toEqual([]);
  });

  it.each([
    ["more than 100 items", Array.from({ length: 101 }, (_, i) => ({ from: "http://peer2.test/api/files/x", name: `n/${i}`, size: 1 }))],
    ["no items", []],
    [
      "one destination twice",
      [
        { from: "http://peer2.test/api/files/x", name: "twice.txt", size: 1 },
        { from: "http://peer2.test/api/files/y", name: "twice.txt", size: 1 },
      ],
    ],
    ["a name the contract refuses", [{ from: "http://peer2.test/api/files/x", name: "a//b", size: 1 }]],
    ["an item without its size", [{ from: "http://peer2.test/api/files/x", name: "nosize.txt" }]],
    ["a malformed SHA-256", [{ from: "http://peer2.test/api/files/x", name: "s.txt", size: 1, sha256: "abc" }]],
  ])("refuses %s with 400", async (_why, items) => {
    const res = await pulls(items);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });

  it("settles the quota once with the real change: after replaces and a failed item the counter is the bytes stored", async () => {
    const calls: Array<{ method: string; args: unknown[] }> = [];
    const quota = watchedQuota((method, args) => void calls.push({ method, args }));
    // Its own counter (first used here, it counts the bucket as it is), each commit sent alone at once.
    const vars = { ...env, PEER_NAME: "transfers-usage", QUOTA: quota, QUOTA_CARRY_MS: "1" } as typeof env;
    const send = async (path: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${TEST_TOKEN}`);
      if (init.body instanceof Uint8Array) headers.set("content-length", String(init.body.byteLength));
      const request = new Request(`${BASE}${path}`, { ...init, headers }) as Request<unknown, IncomingRequestCfProperties>;
      const ctx = createExecutionContext();
      const res = await worker.fetch(request, vars, ctx);
      // The deferred commit (after the answer) has landed too.
      await waitOnExecutionContext(ctx);
      return res;
    };
    const text = (value: string) => new TextEncoder().encode(value);
    for (const [name, body] of [
      ["sum/grows.txt", "old"],
      ["sum/kept.txt", "previous y"],
      ["sum/shrinks.txt", "twenty bytes, before"],
    ] as const) {
      expect((await send(`/api/files/${name}`, { method: "PUT", body: text(body) })).status).toBe(201);
    }
    const before = await storageUsage(vars as never);
    expect(before).toMatchObject({ used: await storedBytes(), reserved: 0, reservations: 0, doubt: false });

    const [grows, kept, shrinks, added] = await onPeer2({
      "su/grows.txt": "pulled, now longer",
      "su/kept.txt": "link made stale",
      "su/shrinks.txt": "short",
      "su/added.txt": "brand new",
    });
    // The source changes after its link: that item fails (gone) and sum/kept.txt keeps its 10 bytes.
    expect((await peer2("/api/files/su/kept.txt", { method: "PUT", body: "changed since" })).status).toBe(201);
    calls.length = 0;
    const res = await send("/api/pulls", {
      method: "POST",
      body: JSON.stringify({
        items: [
          item(grows!, "sum/grows.txt"),
          item(kept!, "sum/kept.txt"),
          item(shrinks!, "sum/shrinks.txt"),
          item(added!, "sum/added.txt"),
        ],
      }),
    });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results.map((r) => [r.name, r.ok ? "ok" : r.error?.code])).toEqual([
      ["sum/grows.txt", "ok"],
      ["sum/kept.txt", "gone"],
      ["sum/shrinks.txt", "ok"],
      ["sum/added.txt", "ok"],
    ]);
    expect(await (await env.FILES.get("sum/kept.txt"))!.text()).toBe("previous y");

    // One reservation for the declared total, one commit of the real change: (18 + 10 + 5 + 9) − (3 + 10 + 20 + 0).
    const declared = [grows, kept, shrinks, added].reduce((n, link) => n + link!.size!, 0);
    expect(calls.map((c) => c.method)).toEqual(["reserve", "commit"]);
    expect(calls[0]!.args[0]).toMatchObject({ bytes: declared });
    expect(calls[1]!.args[1]).toBe(42 - 33);
    const after = await storageUsage(vars as never);
    expect(after).toMatchObject({ used: before.used + 9, reserved: 0, reservations: 0, doubt: false });
    expect(after.used).toBe(await storedBytes());
  });

  it("stores an item whose source reports no SHA-256 with the one computed on arrival; a wrong declared one fails it alone", async () => {
    const [bare, declared, wrong, other] = await onPeer2({
      "ns/bare.txt": "no digest sent",
      "ns/declared.txt": "declared right",
      "ns/wrong.txt": "declared wrong",
      "ns/other.txt": "an ordinary one",
    });
    // The test network drops the source's X-Content-SHA256 for a link with `__nosha` (as an older peer, or a file it has none for).
    const noSha = (link: TransferLink) => {
      const from = new URL(link.url);
      from.searchParams.set("__nosha", "1");
      return from.toString();
    };
    // What this peer is sent for such a link: the bytes, with no SHA-256.
    const sent = await (env as unknown as { OUTBOUND: Fetcher }).OUTBOUND.fetch(noSha(bare!));
    expect(sent.status).toBe(200);
    expect(sent.headers.has("x-content-sha256")).toBe(false);
    expect(await sent.text()).toBe("no digest sent");
    const res = await pulls([
      { from: noSha(bare!), name: "ns/got/bare.txt", size: bare!.size },
      { from: noSha(declared!), name: "ns/got/declared.txt", size: declared!.size, sha256: await sha256("declared right") },
      { from: noSha(wrong!), name: "ns/got/wrong.txt", size: wrong!.size, sha256: await sha256("something else") },
      item(other!, "ns/got/other.txt"),
    ]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: PullResult[] };
    expect(results[0]).toMatchObject({ name: "ns/got/bare.txt", ok: true, file: { size: 14, sha256: await sha256("no digest sent") } });
    expect(results[1]).toMatchObject({ name: "ns/got/declared.txt", ok: true, file: { sha256: await sha256("declared right") } });
    expect(results[2]).toMatchObject({ name: "ns/got/wrong.txt", ok: false, error: { code: "checksum_mismatch" } });
    expect(results[3]).toMatchObject({ name: "ns/got/other.txt", ok: true });
    expect(await env.FILES.head("ns/got/wrong.txt")).toBeNull();
    // The computed digest is the file's own from now on: served with it, and listed with it.
    const got = await call("/api/files/ns/got/bare.txt");
    expect(await got.text()).toBe("no digest sent");
    expect(got.headers.get("x-content-sha256")).toBe(await sha256("no digest sent"));
    const listed = (await (await call("/api/files?prefix=ns/got/")).json()) as { files: Array<{ name: string; sha256: string | null }> };
    expect(listed.files.find((f) => f.name === "ns/got/bare.txt")?.sha256).toBe(await sha256("no digest sent"));
  });
});
