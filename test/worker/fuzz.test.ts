import { SELF, env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../../src/http/errors";
import { BASE, call, putFile } from "../support/http";
import { outboundRequests } from "../support/outbound";

/** Every key of the bucket and of KV, to show that a refused request stored nothing anywhere. */
async function everythingStored(): Promise<string[]> {
  const keys: string[] = [];
  for (let cursor: string | undefined, done = false; !done; ) {
    const page = await env.FILES.list({ cursor, include: ["customMetadata"] });
    keys.push(...page.objects.map((o) => `r2:${o.key}:${o.etag}`));
    cursor = page.truncated ? page.cursor : undefined;
    done = !page.truncated;
  }
  for (let cursor: string | undefined, done = false; !done; ) {
    const page = await env.KV.list({ cursor });
    keys.push(...page.keys.map((k) => `kv:${k.name}`));
    cursor = page.list_complete ? undefined : page.cursor;
    done = page.list_complete;
  }
  return keys.sort();
}

/** Every refused answer has the contract's shape, its code's status, and is JSON. */
async function expectContractError(res: Response, allowed: number[]): Promise<void> {
  expect(allowed).toContain(res.status);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  const body = (await res.json()) as { error: { code: keyof typeof ERROR_STATUS; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(ERROR_STATUS[body.error.code]).toBe(res.status);
  expect(body.error.message.length).toBeGreaterThan(0);
}

const encodeName = (name: string) => name.split("/").map(encodeURIComponent).join("/");

// Names built from the characters that matter: separators, dots, controls, non-ASCII.
const nameChar = fc.constantFrom("a", "b", "/", ".", "..", "\\", "\u0000", "\u001f", "\u007f", "é", "日", "😀", " ", "%", "?", "#");
const fileName = fc.oneof(
  fc.array(nameChar, { maxLength: 12 }).map((c) => c.join("")),
  fc.string({ unit: "grapheme", maxLength: 40 }),
);

describe("fuzzing every input (never a 500, always the contract's error shape)", { timeout: 90_000 }, () => {
  it("file names on PUT: stored and readable byte for byte, or refused with 400 and nothing stored", async () => {
    await fc.assert(
      fc.asyncProperty(fileName, fc.uint8Array({ maxLength: 64 }), async (name, bytes) => {
        const before = await everythingStored();
        const res = await call(`/api/files/${encodeName(name)}`, { method: "PUT", body: bytes });
        if (res.status === 201) {
          const meta = (await res.json()) as { name: string; size: number };
          expect(meta.size).toBe(bytes.length);
          const got = await call(`/api/files/${encodeName(meta.name)}`);
          expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
          return;
        }
        // 404/405: the URL parser folded the name into another route (e.g. "a/.." or "").
        await expectContractError(res, [400, 404, 405]);
        expect(await everythingStored()).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });

  it("memory keys and values: round trip, or 400/413 and nothing stored", async () => {
    const key = fc.oneof(
      fc.string({ unit: "grapheme", minLength: 0, maxLength: 30 }),
      fc.array(nameChar, { maxLength: 10 }).map((c) => c.join("")),
    );
    await fc.assert(
      fc.asyncProperty(key, fc.jsonValue({ maxDepth: 3 }), fc.option(fc.integer({ min: -10, max: 100000 })), async (k, value, ttl) => {
        const body = ttl === null ? { value } : { value, ttl };
        const before = await everythingStored();
        const res = await call(`/api/memory/${encodeURIComponent(k)}`, { method: "PUT", body: JSON.stringify(body) });
        if (res.status === 200) {
          const got = (await (await call(`/api/memory/${encodeURIComponent(k)}`)).json()) as { value: unknown };
          // JSON has no -0: it reads back as 0.
          expect(got.value).toEqual(JSON.parse(JSON.stringify(value)));
          return;
        }
        await expectContractError(res, [400, 404, 405, 413]);
        expect(await everythingStored()).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });

  it("memory bodies that are not the contract's shape: 400", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json()), async (text) => {
        const res = await call("/api/memory/fuzz-body", { method: "PUT", body: text });
        if (res.status === 200) {
          const parsed = JSON.parse(text) as Record<string, unknown>;
          expect(parsed && typeof parsed === "object" && "value" in parsed).toBe(true);
          return;
        }
        await expectContractError(res, [400, 413]);
      }),
      { numRuns: 60 },
    );
  });

  describe("Range headers", () => {
    const size = 300;
    const bytes = Uint8Array.from({ length: size }, (_, i) => i % 256);
    beforeAll(async () => {
      expect((await putFile("fuzz-range.bin", bytes)).status).toBe(201);
    });

    it("answer 200 with the file, 206 with exactly the range, or 416", async () => {
      const spec = fc.oneof(
        fc.string(),
        fc.tuple(fc.option(fc.nat(400)), fc.option(fc.nat(400))).map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
        fc
          .array(fc.tuple(fc.nat(400), fc.nat(400)), { minLength: 1, maxLength: 3 })
          .map((rs) => `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(",")}`),
      );
      await fc.assert(
        fc.asyncProperty(spec, async (range) => {
          const res = await call("/api/files/fuzz-range.bin", { headers: { range } });
          if (res.status === 200) {
            expect((await res.arrayBuffer()).byteLength).toBe(size);
          } else if (res.status === 206) {
            const m = /^bytes (\d+)-(\d+)\/300$/.exec(res.headers.get("content-range") ?? "");
            expect(m).not.toBeNull();
            const [start, end] = [Number(m![1]), Number(m![2])];
            expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes.slice(start, end + 1));
          } else {
            expect(res.headers.get("content-range")).toBe("bytes */300");
            await expectContractError(res, [416]);
          }
        }),
        { numRuns: 80 },
      );
    });
  });

  it("share-link parameters: anything but the signed values is 403", async () => {
    await putFile("fuzz-share.txt", "s");
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (expires, sig) => {
        const url = `${BASE}/api/files/fuzz-share.txt?expires=${encodeURIComponent(expires)}&sig=${encodeURIComponent(sig)}`;
        await expectContractError(await SELF.fetch(url), [403]);
      }),
      { numRuns: 40 },
    );
  });

  it("pull bodies: 400 or 403, never a fetch of an unknown origin", async () => {
    const sent = (await outboundRequests()).length;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.webUrl(), fc.string(), fc.json()), async (from) => {
        const before = await everythingStored();
        const res = await call("/api/files/fuzz-pull.txt/pull", { method: "POST", body: JSON.stringify({ from }) });
        await expectContractError(res, [400, 403]);
        expect(await everythingStored()).toEqual(before);
      }),
      { numRuns: 40 },
    );
    // Not one of those bodies made the peer fetch anything.
    expect((await outboundRequests()).slice(sent)).toEqual([]);
  });

  it("multipart calls in any order: never a 500, nothing left unless completed", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("part" as const), n: fc.integer({ min: -1, max: 3 }), size: fc.nat(16) }),
      fc.record({ kind: fc.constant("complete" as const), parts: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }) }),
      fc.record({ kind: fc.constant("abort" as const) }),
    );
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        const name = `fuzz/mp-${round++}.bin`;
        const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name }) });
        expect(created.status).toBe(201);
        const { uploadId } = (await created.json()) as { uploadId: string };
        const q = `?name=${encodeURIComponent(name)}`;
        const etags = new Map<number, string>();
        let completed = false;
        for (const o of ops) {
          let res: Response;
          if (o.kind === "part") {
            res = await call(`/api/uploads/${uploadId}/parts/${o.n}${q}`, { method: "PUT", body: new Uint8Array(o.size) });
            if (res.status === 200) {
              etags.set(o.n, ((await res.json()) as { etag: string }).etag);
              continue;
            }
          } else if (o.kind === "complete") {
            const parts = o.parts.map((p) => ({ part: p, etag: etags.get(p) ?? "bogus" }));
            res = await call(`/api/uploads/${uploadId}/complete${q}`, { method: "POST", body: JSON.stringify({ parts }) });
            if (res.status === 201) {
              completed = true;
              await res.json();
              continue;
            }
          } else {
            res = await call(`/api/uploads/${uploadId}${q}`, { method: "DELETE" });
            if (res.status === 204) continue;
          }
          await expectContractError(res, [400, 404, 409]);
        }
        if (!completed) expect(await env.FILES.head(name)).toBeNull();
      }),
      { numRuns: 30 },
    );
  });
});
