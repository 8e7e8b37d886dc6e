import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { storageUsage } from "../../src/storage/quota";
import { BASE, call, errorOf, mintToken, putFile, sha256, storedBytes } from "../support/http";
import { TEST_TOKEN } from "../support/peers";
import { watchedQuota } from "../support/quota";

interface PutResult {
  name: string;
  ok: boolean;
  file?: { name: string; size: number; sha256: string | null; contentType: string };
  error?: { code: string; message: string };
}

interface Entry {
  name: string;
  bytes: Uint8Array | string;
  sha256?: string;
  contentType?: string;
  /** Declared instead of the bytes' own length. */
  size?: number;
}

const encode = (value: Uint8Array | string) => (typeof value === "string" ? new TextEncoder().encode(value) : value);

/** A batch put's body as the contract has it: one line of JSON, `\n`, the files' bytes in order. */
function batchBody(entries: Entry[], manifest?: unknown): Uint8Array {
  const files = entries.map((e) => ({
    name: e.name,
    size: e.size ?? encode(e.bytes).byteLength,
    ...(e.sha256 && { sha256: e.sha256 }),
    ...(e.contentType && { contentType: e.contentType }),
  }));
  const parts = [new TextEncoder().encode(`${JSON.stringify(manifest ?? { files })}\n`), ...entries.map((e) => encode(e.bytes))];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return all;
}

function puts(body: Uint8Array, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return call("/api/puts", { method: "POST", body, token, headers: { "content-length": String(body.byteLength), ...headers } });
}

async function results(res: Response): Promise<PutResult[]> {
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: PutResult[] }).results;
}

describe("POST /api/puts", () => {
  it("stores every file of the batch byte for byte, each with its SHA-256 (computed when not given) and its type", async () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    const entries: Entry[] = [
      { name: "bput/a.txt", bytes: "alpha", contentType: "text/plain; charset=utf-8" },
      { name: "bput/empty.bin", bytes: "" },
      { name: "bput/ünïcode/名前.txt", bytes: "named", sha256: await sha256("named") },
      { name: "bput/big.bin", bytes: big, sha256: await sha256(big) },
    ];
    const answer = await results(await puts(batchBody(entries)));
    expect(answer.map((r) => [r.name, r.ok])).toEqual(entries.map((e) => [e.name, true]));
    for (const [i, entry] of entries.entries()) {
      const stored = await env.FILES.get(entry.name);
      expect(stored, entry.name).not.toBeNull();
      // Byte for byte: the stored bytes' own digest (a deep compare of 3 MiB is slow).
      expect(await sha256(new Uint8Array(await stored!.arrayBuffer()))).toBe(await sha256(entry.bytes));
      expect(stored!.size).toBe(encode(entry.bytes).byteLength);
      expect(answer[i]?.file?.sha256).toBe(await sha256(entry.bytes));
      // The listing shows the same SHA-256 as the answer (recorded with the object).
      const listed = await call(`/api/files?prefix=${encodeURIComponent(entry.name)}`);
      const page = (await listed.json()) as { files: Array<{ name: string; sha256: string | null }> };
      expect(page.files.find((f) => f.name === entry.name)?.sha256).toBe(await sha256(entry.bytes));
    }
    expect((await env.FILES.head("bput/a.txt"))?.httpMetadata?.contentType).toBe("text/plain; charset=utf-8");
    expect((await env.FILES.head("bput/empty.bin"))?.httpMetadata?.contentType).toBe("application/octet-stream");
  });

  it("fails a file whose bytes do not match its SHA-256 alone, storing nothing for it, and stores the rest", async () => {
    await putFile("bput2/kept.txt", "the version before");
    const entries: Entry[] = [
      { name: "bput2/first.txt", bytes: "first" },
      { name: "bput2/kept.txt", bytes: "not what the digest says", sha256: await sha256("something else") },
      { name: "bput2/last.txt", bytes: "last", sha256: await sha256("last") },
    ];
    const answer = await results(await puts(batchBody(entries)));
    expect(answer.map((r) => [r.name, r.ok ? "ok" : r.error?.code])).toEqual([
      ["bput2/first.txt", "ok"],
      ["bput2/kept.txt", "checksum_mismatch"],
      ["bput2/last.txt", "ok"],
    ]);
    expect(answer[1]?.error?.message).toMatch(/do not match the SHA-256/);
    expect(await (await env.FILES.get("bput2/kept.txt"))!.text()).toBe("the version before");
    expect(await (await env.FILES.get("bput2/last.txt"))!.text()).toBe("last");
  });

  it("refuses a body whose Content-Length is not the line and the declared sizes with 400, storing nothing", async () => {
    // Declared 10 bytes, sent 4: the length no longer adds up.
    const short = batchBody([{ name: "bput3/a.txt", bytes: "four", size: 10 }]);
    const res = await puts(short);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/Content-Length is \d+, but/);
    expect(await env.FILES.head("bput3/a.txt")).toBeNull();
  });

  it("asks for a Content-Length (411) when the body has none", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(batchBody([{ name: "bput3/chunked.txt", bytes: "chunked" }]));
        controller.close();
      },
    });
    const res = await call("/api/puts", { method: "POST", body });
    expect(res.status).toBe(411);
    expect((await errorOf(res)).code).toBe("length_required");
    expect(await env.FILES.head("bput3/chunked.txt")).toBeNull();
  });

  it.each([
    ["no first line", new TextEncoder().encode('{"files":[{"name":"x","size":0}]}'), /ended before the end of its first line/],
    ["a first line that is not JSON", new TextEncoder().encode("files: x\n"), /not valid JSON/],
    ["no files", batchBody([], { files: [] }), /files/],
    ["more than 100 files", batchBody([], { files: Array.from({ length: 101 }, (_, i) => ({ name: `n/${i}`, size: 0 })) }), /files/],
    ["a file over 16 MiB", batchBody([], { files: [{ name: "huge.bin", size: 16 * 1024 * 1024 + 1 }] }), /size/],
    [
      "more than 64 MiB in all",
      batchBody([], { files: Array.from({ length: 5 }, (_, i) => ({ name: `m/${i}.bin`, size: 16 * 1024 * 1024 })) }),
      /64 MiB/,
    ],
    [
      "one name twice",
      batchBody([
        { name: "bput4/twice.txt", bytes: "a" },
        { name: "bput4/twice.txt", bytes: "b" },
      ]),
      /only once/,
    ],
    ["a name the contract refuses", batchBody([{ name: "bput4/../up.txt", bytes: "a" }]), /'\.' or '\.\.'/],
    ["a malformed type", batchBody([{ name: "bput4/typed.txt", bytes: "a", contentType: "not a type" }]), /contentType/],
    ["an unknown field", batchBody([], { files: [{ name: "bput4/x.txt", size: 0, mode: 644 }] }), /mode|Unrecognized/i],
  ])("refuses %s with a JSON 400 and stores nothing", async (_label, body, message) => {
    const before = await storedBytes();
    const res = await puts(body);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("bad_request");
    expect(error.message).toMatch(message);
    expect(await storedBytes()).toBe(before);
    expect(await env.FILES.head("bput4/twice.txt")).toBeNull();
  });

  it("refuses a body over 1 MiB + 64 MiB by its Content-Length with 413, reading none of it — the guard as the handler", async () => {
    const scoped = await mintToken(["write"], "");
    for (const token of [undefined, scoped]) {
      // A body that never sends a byte: an answer at all means nothing waited for it.
      const unread = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
      const declared = String(1024 * 1024 + 1 + 64 * 1024 * 1024 + 1);
      const res = await call("/api/puts", { method: "POST", body: unread, token, headers: { "content-length": declared } });
      expect(res.status).toBe(413);
      expect((await errorOf(res)).message).toMatch(/the limit is/);
    }
  });

  it("refuses a first line over its 1 MiB limit with 413", async () => {
    const line = `{"files":[{"name":"${"a".repeat(1024 * 1024)}","size":0}]}\n`;
    const res = await puts(new TextEncoder().encode(line));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
  });

  it("refuses a batch over the storage quota with 413, storing nothing", async () => {
    const limited = { ...env, PEER_NAME: "puts-quota", STORAGE_LIMIT_MB: "1" };
    const body = batchBody([
      { name: "bq/a.bin", bytes: new Uint8Array(600 * 1024) },
      { name: "bq/b.bin", bytes: new Uint8Array(600 * 1024) },
    ]);
    const request = new Request(`${BASE}/api/puts`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-length": String(body.byteLength) },
      body,
    }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, limited, createExecutionContext());
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expect(await env.FILES.head("bq/a.bin")).toBeNull();
    expect(await env.FILES.head("bq/b.bin")).toBeNull();
  });

  it("lets a scoped token write only under its prefix: one name outside refuses the whole batch with 403", async () => {
    const token = await mintToken(["write"], "bdrop/");
    const outside = await puts(
      batchBody([
        { name: "bdrop/in.txt", bytes: "in" },
        { name: "elsewhere/out.txt", bytes: "out" },
      ]),
      token,
    );
    expect(outside.status).toBe(403);
    expect((await errorOf(outside)).code).toBe("forbidden");
    expect(await env.FILES.head("bdrop/in.txt")).toBeNull();
    expect(await env.FILES.head("elsewhere/out.txt")).toBeNull();

    const readOnly = await mintToken(["read"], "bdrop/");
    expect((await puts(batchBody([{ name: "bdrop/in.txt", bytes: "in" }]), readOnly)).status).toBe(403);

    const inside = await results(await puts(batchBody([{ name: "bdrop/in.txt", bytes: "in" }]), token));
    expect(inside[0]).toMatchObject({ name: "bdrop/in.txt", ok: true });
    expect(await (await env.FILES.get("bdrop/in.txt"))!.text()).toBe("in");
  });

  it("reserves the quota once for the declared sizes and settles it once with the real change", async () => {
    const calls: Array<{ method: string; args: unknown[] }> = [];
    const quota = watchedQuota((method, args) => void calls.push({ method, args }));
    const vars = { ...env, PEER_NAME: "puts-usage", QUOTA: quota, QUOTA_CARRY_MS: "1" } as typeof env;
    const send = async (path: string, method: string, body: Uint8Array) => {
      const headers = { authorization: `Bearer ${TEST_TOKEN}`, "content-length": String(body.byteLength) };
      const request = new Request(`${BASE}${path}`, { method, headers, body }) as Request<unknown, IncomingRequestCfProperties>;
      const ctx = createExecutionContext();
      const res = await worker.fetch(request, vars, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const text = (value: string) => new TextEncoder().encode(value);
    expect((await send("/api/files/bsum/grows.txt", "PUT", text("old"))).status).toBe(201);
    expect((await send("/api/files/bsum/kept.txt", "PUT", text("previous y"))).status).toBe(201);
    expect((await send("/api/files/bsum/shrinks.txt", "PUT", text("twenty bytes, before"))).status).toBe(201);
    const before = await storageUsage(vars as never);
    expect(before).toMatchObject({ used: await storedBytes(), reserved: 0, reservations: 0, doubt: false });

    calls.length = 0;
    const entries: Entry[] = [
      { name: "bsum/grows.txt", bytes: "now eighteen bytes" },
      { name: "bsum/kept.txt", bytes: "a wrong one", sha256: await sha256("not these bytes") },
      { name: "bsum/shrinks.txt", bytes: "short" },
      { name: "bsum/added.txt", bytes: "brand new" },
    ];
    const answer = await results(await send("/api/puts", "POST", batchBody(entries)));
    expect(answer.map((r) => r.ok)).toEqual([true, false, true, true]);
    // One reservation of the declared total, one commit of the real change: (18 + 10 + 5 + 9) − (3 + 10 + 20 + 0).
    expect(calls.map((c) => c.method)).toEqual(["reserve", "commit"]);
    expect(calls[0]!.args[0]).toMatchObject({ bytes: 18 + 11 + 5 + 9 });
    expect(calls[1]!.args[1]).toBe(42 - 33);
    const after = await storageUsage(vars as never);
    expect(after).toMatchObject({ used: before.used + 9, reserved: 0, reservations: 0, doubt: false });
    expect(after.used).toBe(await storedBytes());
  });
});
