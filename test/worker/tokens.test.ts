import { SELF, env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import indexSource from "../../src/index.ts?raw";
import { narrowToken } from "../../src/api/tokenChain";
import worker from "../../src/index";
import { BASE, call, errorOf, putFile } from "../support/http";
import { TEST_TOKEN } from "../support/peers";

type Op = "read" | "write" | "delete" | "memory" | "tasks";
const ALL_OPS: Op[] = ["read", "write", "delete", "memory", "tasks"];

interface Minted {
  id: string;
  token: string;
  ops: Op[];
  prefix: string;
  expires: string | null;
  label: string;
}

async function mint(body: { ops: Op[]; prefix?: string; ttl?: number; label?: string }): Promise<Minted> {
  const res = await call("/api/tokens", { method: "POST", body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

const enc = (name: string) => name.split("/").map(encodeURIComponent).join("/");

describe("scoped tokens: minting, listing, revoking", () => {
  it("mints a token that answers like the peer token within its scope, and shows the secret a single time", async () => {
    await putFile("photos/a.txt", "a");
    const t = await mint({ ops: ["read"], prefix: "photos/", ttl: 3600, label: "friend" });
    expect(t.token).toMatch(/^ept1_/);
    expect(t).toMatchObject({ ops: ["read"], prefix: "photos/", label: "friend" });
    expect(Date.parse(t.expires ?? "") - Date.now()).toBeGreaterThan(3590_000);
    const res = await call("/api/files/photos/a.txt", { token: t.token });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("a");

    const list = await call("/api/tokens");
    const text = await list.text();
    expect(text).not.toContain(t.token);
    expect(text).not.toContain(t.token.split(".")[1]);
    const { tokens } = JSON.parse(text) as { tokens: Array<Record<string, unknown>> };
    expect(tokens.find((x) => x.id === t.id)).toMatchObject({ id: t.id, ops: ["read"], prefix: "photos/", label: "friend" });
  });

  it("refuses a revoked token with 401 on the very next request", async () => {
    const t = await mint({ ops: ["memory"] });
    expect((await call("/api/memory", { token: t.token })).status).toBe(200);
    expect((await call(`/api/tokens/${t.id}`, { method: "DELETE" })).status).toBe(204);
    const res = await call("/api/memory", { token: t.token });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toContain("revoked");
    // Whatever the route would have answered: a missing key (404), outside the scope (403), a write.
    for (const [path, method] of [
      ["/api/memory/missing", "GET"],
      ["/api/memory/k", "HEAD"],
      ["/api/files", "GET"],
      ["/api/memory/k", "PUT"],
    ] as const) {
      const res = await call(path, { method, token: t.token, body: method === "PUT" ? '{"value":1}' : undefined });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect(await env.KV.get("mem:k")).toBeNull();
    expect((await call(`/api/tokens/${t.id}`, { method: "DELETE" })).status).toBe(404);
    const { tokens } = (await (await call("/api/tokens")).json()) as { tokens: Array<{ id: string }> };
    expect(tokens.map((x) => x.id)).not.toContain(t.id);
  });

  it("refuses an expired token with 401", { timeout: 10_000 }, async () => {
    const t = await mint({ ops: ["memory"], ttl: 1 });
    expect((await call("/api/memory", { token: t.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const res = await call("/api/memory", { token: t.token });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toContain("expired");
  });

  it("refuses every token once PEER_TOKEN is rotated", async () => {
    const t = await mint({ ops: ["memory"] });
    const rotated = { ...env, PEER_TOKEN: `${TEST_TOKEN}-rotated` };
    const req = () => new Request(`${BASE}/api/memory`, { headers: { authorization: `Bearer ${t.token}` } });
    expect((await worker.fetch(req(), env, {} as ExecutionContext)).status).toBe(200);
    expect((await worker.fetch(req(), rotated, {} as ExecutionContext)).status).toBe(401);
  });

  it("refuses a token whose scope was altered, and never echoes a token in an error", async () => {
    const t = await mint({ ops: ["read"], prefix: "photos/" });
    const [head, sig] = t.token.split(".") as [string, string];
    const payload = JSON.parse(atob(head.slice(5).replace(/-/g, "+").replace(/_/g, "/")));
    const widened = btoa(JSON.stringify({ ...payload, p: "", o: ALL_OPS }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    const forged = `ept1_${widened}.${sig}`;
    const res = await call("/api/files", { token: forged });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).not.toContain(forged);
    expect(text).not.toContain(sig);
    const refused = await call("/api/files", { token: t.token });
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain(sig);
  });

  it("lets only the peer token manage tokens and shares", async () => {
    const t = await mint({ ops: ALL_OPS });
    for (const [method, path] of [
      ["GET", "/api/tokens"],
      ["POST", "/api/tokens"],
      ["DELETE", `/api/tokens/${t.id}`],
      ["GET", "/api/shares"],
      ["GET", "/api/stats"],
    ] as const) {
      const res = await call(path, { method, token: t.token, body: method === "POST" ? JSON.stringify({ ops: ALL_OPS }) : undefined });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
  });

  it("refuses malformed token requests with 400", async () => {
    for (const body of [
      {},
      { ops: [] },
      { ops: ["admin"] },
      { ops: ["read"], ttl: 0 },
      { ops: ["read"], prefix: "a\u0000" },
      { ops: ["read"], label: "x".repeat(201) },
    ]) {
      const res = await call("/api/tokens", { method: "POST", body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call("/api/tokens/not-an-id", { method: "DELETE" })).status).toBe(404);
  });
});

describe("scoped tokens narrowed offline", () => {
  it("narrows ops, prefix and life without the peer, and can never widen", async () => {
    await putFile("shots/sub/in.txt", "in");
    await putFile("shots/other.txt", "out");
    const t = await mint({ ops: ["read", "write", "delete"], prefix: "shots/" });
    const narrowed = await narrowToken(t.token, { ops: ["read"], prefix: "shots/sub/", ttlSeconds: 3600 });
    expect(narrowed.startsWith(t.token.split(".")[0]!)).toBe(true);
    expect(await (await call("/api/files/shots/sub/in.txt", { token: narrowed })).text()).toBe("in");
    expect((await call("/api/files/shots/other.txt", { token: narrowed })).status).toBe(403);
    expect((await call("/api/files/shots/sub/new.txt", { method: "PUT", body: "n", token: narrowed })).status).toBe(403);
    // The original still has its own scope.
    expect((await call("/api/files/shots/other.txt", { token: t.token })).status).toBe(200);

    // Narrowing again only narrows further; a caveat that tries to widen makes the token invalid.
    const twice = await narrowToken(narrowed, { ops: ["read", "write", "delete", "memory"] });
    expect((await call("/api/files/shots/sub/in.txt", { token: twice })).status).toBe(200);
    expect((await call("/api/memory/shots/sub/k", { token: twice })).status).toBe(403);
    const outside = await narrowToken(t.token, { prefix: "elsewhere/" });
    expect((await call("/api/files?prefix=elsewhere/", { token: outside })).status).toBe(401);

    // A caveat cannot be taken off or altered: the chain no longer matches.
    const [body, sig] = narrowed.split(".") as [string, string];
    const stripped = `${body.split("~")[0]}.${sig}`;
    expect((await call("/api/files/shots/other.txt", { token: stripped })).status).toBe(401);
    const caveats = body.split("~");
    const widened = btoa(JSON.stringify({ o: ["read", "write", "delete"], p: "shots/" }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    expect((await call("/api/files/shots/other.txt", { token: `${caveats[0]}~${widened}.${sig}` })).status).toBe(401);

    // An earlier expiry holds; revoking the original revokes every narrowed copy.
    const brief = await narrowToken(t.token, { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await call("/api/files/shots/other.txt", { token: brief })).status).toBe(401);
    expect((await call(`/api/tokens/${t.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call("/api/files/shots/sub/in.txt", { token: narrowed })).status).toBe(401);
  }, 30_000);
});

/** What one request needs: an op on a name or prefix (kind), or peer only / any token / public. */
type Need = { op: Op; value?: string; kind?: "name" | "prefix" };
type Expect = Need[] | "peer" | "any" | "public";

interface Case {
  route: string;
  method: string;
  path: string;
  body?: unknown;
  needs: Expect;
}

/** A folder path as the prefix it covers. */
const asFolder = (path: string) => (path.endsWith("/") ? path : `${path}/`);

/** Every route of the table, called with names `n` (a file name, memory key or folder), `m` (a destination) and listing prefix `p`. */
function cases(n: string, p: string, m = "dest/x.txt"): Case[] {
  const file = enc(n);
  const q = encodeURIComponent(n);
  const nf = asFolder(n);
  const mf = asFolder(m);
  return [
    { route: "GET /api/health", method: "GET", path: "/api/health", needs: "public" },
    { route: "GET /api/peers", method: "GET", path: "/api/peers", needs: "any" },
    { route: "GET /api/stats", method: "GET", path: "/api/stats", needs: "peer" },
    {
      route: "GET /api/files",
      method: "GET",
      path: `/api/files?prefix=${encodeURIComponent(p)}`,
      needs: [{ op: "read", value: p, kind: "prefix" }],
    },
    {
      route: "POST /api/files/:name+/share",
      method: "POST",
      path: `/api/files/${file}/share`,
      body: {},
      needs: [{ op: "read", value: n }],
    },
    {
      route: "POST /api/links",
      method: "POST",
      path: "/api/links",
      body: { names: [n, m] },
      needs: [
        { op: "read", value: n },
        { op: "read", value: m },
      ],
    },
    {
      route: "POST /api/pulls",
      method: "POST",
      path: "/api/pulls",
      body: {
        items: [
          { from: "not a url", name: n, size: 1 },
          { from: "not a url", name: m, size: 1 },
        ],
      },
      needs: [
        { op: "write", value: n },
        { op: "write", value: m },
      ],
    },
    {
      route: "POST /api/puts",
      method: "POST",
      path: "/api/puts",
      // The manifest line, then the files' bytes: the guard reads the line only.
      body: `${JSON.stringify({
        files: [
          { name: n, size: 1 },
          { name: m, size: 1 },
        ],
      })}\nxy`,
      needs: [
        { op: "write", value: n },
        { op: "write", value: m },
      ],
    },
    {
      route: "POST /api/files/:name+/pull",
      method: "POST",
      path: `/api/files/${file}/pull`,
      body: { from: "not a url" },
      needs: [{ op: "write", value: n }],
    },
    {
      route: "POST /api/files/:name+/copy",
      method: "POST",
      path: `/api/files/${file}/copy`,
      body: { to: m },
      needs: [
        { op: "read", value: n },
        { op: "write", value: m },
      ],
    },
    {
      route: "POST /api/files/:name+/move",
      method: "POST",
      path: `/api/files/${file}/move`,
      body: { to: m },
      needs: [
        { op: "read", value: n },
        { op: "delete", value: n },
        { op: "write", value: m },
      ],
    },
    {
      route: "GET /api/zip",
      method: "GET",
      path: `/api/zip?prefix=${encodeURIComponent(p)}`,
      needs: [{ op: "read", value: p, kind: "prefix" }],
    },
    { route: "POST /api/zip", method: "POST", path: "/api/zip", body: { names: [n] }, needs: [{ op: "read", value: n }] },
    {
      route: "POST /api/folders",
      method: "POST",
      path: "/api/folders",
      body: { path: n },
      needs: [{ op: "write", value: nf, kind: "prefix" }],
    },
    {
      route: "POST /api/folders/:path+/copy",
      method: "POST",
      path: `/api/folders/${file}/copy`,
      body: { to: m },
      needs: [
        { op: "read", value: nf, kind: "prefix" },
        { op: "write", value: mf, kind: "prefix" },
      ],
    },
    {
      route: "POST /api/folders/:path+/move",
      method: "POST",
      path: `/api/folders/${file}/move`,
      body: { to: m },
      needs: [
        { op: "read", value: nf, kind: "prefix" },
        { op: "delete", value: nf, kind: "prefix" },
        { op: "write", value: mf, kind: "prefix" },
      ],
    },
    {
      route: "DELETE /api/folders/:path+",
      method: "DELETE",
      path: `/api/folders/${file}`,
      needs: [{ op: "delete", value: nf, kind: "prefix" }],
    },
    {
      route: "GET /api/zip",
      method: "GET",
      path: `/api/zip?prefix=${encodeURIComponent(p)}`,
      needs: [{ op: "read", value: p, kind: "prefix" }],
    },
    {
      route: "POST /api/zip",
      method: "POST",
      path: "/api/zip",
      // A file and a folder (a name ending in `/`): each must be inside the token's prefix.
      body: { names: [n, mf] },
      needs: [
        { op: "read", value: n },
        { op: "read", value: mf },
      ],
    },
    { route: "GET /api/files/:name+", method: "GET", path: `/api/files/${file}`, needs: [{ op: "read", value: n }] },
    { route: "HEAD /api/files/:name+", method: "HEAD", path: `/api/files/${file}`, needs: [{ op: "read", value: n }] },
    { route: "PUT /api/files/:name+", method: "PUT", path: `/api/files/${file}`, body: "x", needs: [{ op: "write", value: n }] },
    { route: "DELETE /api/files/:name+", method: "DELETE", path: `/api/files/${file}`, needs: [{ op: "delete", value: n }] },
    { route: "POST /api/uploads", method: "POST", path: "/api/uploads", body: { name: n }, needs: [{ op: "write", value: n }] },
    {
      route: "PUT /api/uploads/:uploadId/parts/:n",
      method: "PUT",
      path: `/api/uploads/u1/parts/1?name=${q}`,
      body: "x",
      needs: [{ op: "write", value: n }],
    },
    {
      route: "POST /api/uploads/:uploadId/complete",
      method: "POST",
      path: `/api/uploads/u1/complete?name=${q}`,
      body: { parts: [{ part: 1, etag: "e" }] },
      needs: [{ op: "write", value: n }],
    },
    { route: "DELETE /api/uploads/:uploadId", method: "DELETE", path: `/api/uploads/u1?name=${q}`, needs: [{ op: "write", value: n }] },
    {
      route: "GET /api/memory",
      method: "GET",
      path: `/api/memory?prefix=${encodeURIComponent(p)}`,
      needs: [{ op: "memory", value: p, kind: "prefix" }],
    },
    { route: "GET /api/memory/:key+", method: "GET", path: `/api/memory/${file}`, needs: [{ op: "memory", value: n }] },
    { route: "PUT /api/memory/:key+", method: "PUT", path: `/api/memory/${file}`, body: { value: 1 }, needs: [{ op: "memory", value: n }] },
    { route: "DELETE /api/memory/:key+", method: "DELETE", path: `/api/memory/${file}`, needs: [{ op: "memory", value: n }] },
    { route: "GET /api/tasks", method: "GET", path: "/api/tasks", needs: [{ op: "tasks" }] },
    {
      route: "POST /api/tasks",
      method: "POST",
      path: "/api/tasks",
      body: { program: "function main(){return 1}" },
      needs: [{ op: "tasks" }],
    },
    { route: "DELETE /api/tasks", method: "DELETE", path: "/api/tasks", needs: [{ op: "tasks" }] },
    { route: "POST /api/tasks/batch", method: "POST", path: "/api/tasks/batch", body: { tasks: [] }, needs: [{ op: "tasks" }] },
    { route: "GET /api/tasks/:id", method: "GET", path: "/api/tasks/t1", needs: [{ op: "tasks" }] },
    { route: "GET /api/cache", method: "GET", path: "/api/cache", needs: [{ op: "tasks" }] },
    { route: "DELETE /api/cache", method: "DELETE", path: "/api/cache", needs: [{ op: "tasks" }] },
    { route: "GET /api/tokens", method: "GET", path: "/api/tokens", needs: "peer" },
    { route: "POST /api/tokens", method: "POST", path: "/api/tokens", body: { ops: ["read"] }, needs: "peer" },
    { route: "DELETE /api/tokens/:id", method: "DELETE", path: `/api/tokens/${"0".repeat(32)}`, needs: "peer" },
    { route: "GET /api/shares", method: "GET", path: "/api/shares", needs: "peer" },
    { route: "DELETE /api/shares/:id", method: "DELETE", path: `/api/shares/${"0".repeat(32)}`, needs: "peer" },
    { route: "GET /api/replication", method: "GET", path: "/api/replication", needs: "peer" },
    { route: "GET /api/replication/:id/files", method: "GET", path: "/api/replication/r1/files", needs: "peer" },
    { route: "PUT /api/replication/:id", method: "PUT", path: "/api/replication/r1", body: {}, needs: "peer" },
    { route: "DELETE /api/replication/:id", method: "DELETE", path: "/api/replication/r1", needs: "peer" },
    { route: "POST /api/replication/:id/reconcile", method: "POST", path: "/api/replication/r1/reconcile", needs: "peer" },
    { route: "GET /", method: "GET", path: "/", needs: "public" },
    { route: "HEAD /", method: "HEAD", path: "/", needs: "public" },
    { route: "OPTIONS /", method: "OPTIONS", path: "/", needs: "public" },
    { route: "GET /assets/:file", method: "GET", path: "/assets/none.js", needs: "public" },
    { route: "HEAD /assets/:file", method: "HEAD", path: "/assets/none.js", needs: "public" },
  ];
}

/** "METHOD path" of every route in src/index.ts's table (as test/node/openapi.test.ts reads it). */
function tableRoutes(): string[] {
  const block = /const routes\b[^=]*=\s*\[([\s\S]*?)\n\];/.exec(indexSource)?.[1] ?? "";
  const rows = [...block.matchAll(/\[\s*["']([^"']+)["']\s*,\s*\{([^}]*)\}/g)];
  expect(rows.length).toBe(block.match(/\[\s*["']\//g)?.length);
  return rows.flatMap(([, path = "", methods = ""]) => [...methods.matchAll(/\b([A-Z]+)\s*:/g)].map((m) => `${m[1]} ${path}`));
}

/** The scope's answer, computed without the peer's code: names must start with the prefix. */
function allowed(scope: { ops: Op[]; prefix: string }, needs: Expect): boolean {
  if (needs === "public" || needs === "any") return true;
  if (needs === "peer") return false;
  return needs.every((need) => scope.ops.includes(need.op) && (need.value === undefined || need.value.startsWith(scope.prefix)));
}

const PREFIXES = ["", "photos/", "photos", "photos2/", "ph", "é/", "a b/"];
const NAMES = ["photos/a.txt", "photos", "photos2/x.txt", "photos/ü/ñ 1.txt", "other/a.txt", "é/café.txt", "a b/c%d?.txt", "photosa"];
const LIST_PREFIXES = ["", "photos/", "photos", "photos2/", "photos/ü/", "é/", "a b/", "p"];

describe("scoped tokens: one guard on every route", () => {
  it("has a case for every route of the table", () => {
    const covered = new Set(cases("a", "").map((c) => c.route));
    expect([...covered].sort()).toEqual(tableRoutes().sort());
  });

  it("allows a request exactly when the token's scope says so, on every route", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(ALL_OPS, { minLength: 1 }),
        fc.constantFrom(...PREFIXES),
        fc.constantFrom(...NAMES),
        fc.constantFrom(...LIST_PREFIXES),
        fc.constantFrom(...NAMES),
        async (ops, prefix, name, listPrefix, destination) => {
          const t = await mint({ ops, prefix });
          for (const c of cases(name, listPrefix, destination)) {
            const body = c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body);
            const res = await call(c.path, { method: c.method, token: t.token, body });
            await res.body?.cancel();
            const should = allowed({ ops, prefix }, c.needs);
            const label = `${c.method} ${c.path} ops=${ops} prefix=${JSON.stringify(prefix)}`;
            if (should) expect([401, 403], label).not.toContain(res.status);
            else expect(res.status, label).toBe(403);
          }
        },
      ),
      { numRuns: 10 },
    );
  }, 300_000);

  it("holds a JSON body to the same limit for a scoped token (the guard) as for the peer token (the handler), on every route", async () => {
    const t = await mint({ ops: ALL_OPS, prefix: "" });
    // Declared past every route's limit (a memory value's is 25 MiB): refused by its length; no byte is ever sent.
    const declared = String(32 * 1024 * 1024);
    const unread = () => new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const answer = async (c: Case, token: string) => {
      const res = await call(c.path, { method: c.method, token, body: unread(), headers: { "content-length": declared } });
      return { status: res.status, error: await errorOf(res) };
    };
    const json = cases("a/b.txt", "").filter((c) => typeof c.body === "object" && Array.isArray(c.needs));
    expect(json.map((c) => c.route)).toContain("POST /api/pulls");
    for (const c of json) {
      const byPeer = await answer(c, TEST_TOKEN);
      expect(byPeer.status, c.route).toBe(413);
      expect(await answer(c, t.token), c.route).toEqual(byPeer);
    }
  });

  it("refuses a listing outside the prefix with 403, not an empty page", async () => {
    const t = await mint({ ops: ["read", "memory"], prefix: "photos/" });
    for (const path of ["/api/files", "/api/files?prefix=photos", "/api/files?prefix=photos2/", "/api/memory?prefix=photo"]) {
      const res = await call(path, { token: t.token });
      expect(res.status, path).toBe(403);
      expect((await errorOf(res)).code).toBe("forbidden");
    }
    expect((await call("/api/files?prefix=photos/", { token: t.token })).status).toBe(200);
    expect((await call("/api/files?prefix=photos/sub/", { token: t.token })).status).toBe(200);
  });

  it("stores nothing and deletes nothing outside the prefix", async () => {
    await putFile("other/keep.txt", "keep");
    const t = await mint({ ops: ["write", "delete", "memory"], prefix: "drop/" });
    expect((await call("/api/files/other/keep.txt", { method: "DELETE", token: t.token })).status).toBe(403);
    expect((await call("/api/files/other/new.txt", { method: "PUT", body: "n", token: t.token })).status).toBe(403);
    expect((await call("/api/files/drop%2F..%2Fother/new.txt", { method: "PUT", body: "n", token: t.token })).status).not.toBe(201);
    expect((await call("/api/memory/other", { method: "PUT", body: '{"value":1}', token: t.token })).status).toBe(403);
    expect(await (await env.FILES.get("other/keep.txt"))?.text()).toBe("keep");
    expect(await env.FILES.head("other/new.txt")).toBeNull();
    expect(await env.KV.get("mem:other")).toBeNull();
    expect((await call("/api/files/drop/in.txt", { method: "PUT", body: "in", token: t.token })).status).toBe(201);
  });

  it("checks the names a body carries before the handler reads it", async () => {
    const t = await mint({ ops: ["write"], prefix: "drop/" });
    const res = await call("/api/uploads", { method: "POST", token: t.token, body: JSON.stringify({ name: "elsewhere/big.bin" }) });
    expect(res.status).toBe(403);
    const ok = await call("/api/uploads", { method: "POST", token: t.token, body: JSON.stringify({ name: "drop/big.bin" }) });
    expect(ok.status).toBe(201);
    const { uploadId } = (await ok.json()) as { uploadId: string };
    expect((await call(`/api/uploads/${uploadId}?name=drop%2Fbig.bin`, { method: "DELETE", token: t.token })).status).toBe(204);
  });

  it("refuses a scoped token on a route that does not exist with 404 only after checking it", async () => {
    const t = await mint({ ops: ["read"] });
    expect((await call("/api/nothing", { token: t.token })).status).toBe(404);
    expect((await SELF.fetch(`${BASE}/api/nothing`, { headers: { authorization: "Bearer ept1_x.y" } })).status).toBe(401);
  });
});

describe("scoped tokens on WebDAV", () => {
  const dav = (path: string, token: string, init: RequestInit = {}) =>
    SELF.fetch(`${BASE}${path}`, { ...init, headers: { authorization: `Basic ${btoa(`any:${token}`)}`, ...(init.headers ?? {}) } });

  it("holds a WebDAV client to the token's operations and prefix", { timeout: 30_000 }, async () => {
    await putFile("davscope/d.txt", "d");
    await putFile("private/d.txt", "p");
    const t = await mint({ ops: ["read"], prefix: "davscope/" });
    const folder = await dav("/dav/davscope/", t.token, { method: "PROPFIND", headers: { depth: "1" } });
    expect(folder.status).toBe(207);
    expect(await folder.text()).toContain("d.txt");
    expect((await dav("/dav/", t.token, { method: "PROPFIND", headers: { depth: "1" } })).status).toBe(403);
    expect(await (await dav("/dav/davscope/d.txt", t.token)).text()).toBe("d");
    expect((await dav("/dav/private/d.txt", t.token)).status).toBe(403);
    expect((await dav("/dav/davscope/new.txt", t.token, { method: "PUT", body: "n" })).status).toBe(403);
    expect(await env.FILES.head("davscope/new.txt")).toBeNull();
    expect((await call(`/api/tokens/${t.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await dav("/dav/davscope/d.txt", t.token)).status).toBe(401);
  });
});
