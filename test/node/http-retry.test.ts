/**
 * `nodeFetch` and a kept-alive connection the server closes under the next request (what
 * workerd does at times after answering a large upload): a real node:http server that
 * destroys the first reused socket it sees, before answering anything.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { type Server, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerClient } from "../../src/client/index";
import { fileSource, nodeFetch } from "../../src/client/node";
import { makeTemp, removeTemp } from "../support/network";

let server: Server;
let base: string;
let tmp: string;
/** Requests seen per socket, to tell a reused socket from a fresh one. */
const perSocket = new WeakMap<Socket, number>();
/** Every request that reached the handler: path, whether it was answered, body bytes read. */
let seen: { path: string; reused: boolean; answered: boolean; bytes: number; sha256: string }[] = [];
/** The next request on a reused socket is cut off after this many body bytes (null: not armed). */
let cutAfter: number | null = null;

beforeAll(async () => {
  tmp = await makeTemp("retry");
  server = createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    const entry = { path: req.url ?? "", reused: n > 1, answered: false, bytes: 0, sha256: "" };
    seen.push(entry);
    const cut = n > 1 ? cutAfter : null;
    if (cut !== null) cutAfter = null;
    const hash = createHash("sha256");
    if (cut === 0) {
      req.socket.destroy();
      return;
    }
    req.on("data", (chunk: Buffer) => {
      entry.bytes += chunk.byteLength;
      hash.update(chunk);
      if (cut !== null && entry.bytes >= cut) req.socket.destroy();
    });
    req.on("end", () => {
      if (req.socket.destroyed) return;
      entry.answered = true;
      entry.sha256 = hash.digest("hex");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ bytes: entry.bytes, sha256: entry.sha256 }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await removeTemp(tmp);
});

/** One answered request, so the next one goes out on a pooled (reused) socket; then arms the cut. */
async function warmUpAndArm(cut: number): Promise<void> {
  const reply = await nodeFetch(new URL(`${base}/warm-up`), { method: "GET", headers: {} });
  await reply.json();
  seen = [];
  cutAfter = cut;
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A one-shot stream of `data` in 64 KiB chunks, read only as fast as it is consumed. */
function oneShot(data: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= data.byteLength) return controller.close();
        controller.enqueue(data.slice(at, at + 65536));
        at += 65536;
      },
    },
    { highWaterMark: 0 },
  );
}

describe("nodeFetch on a kept-alive connection the server closed", () => {
  it("sends a GET again on a fresh connection when the reused one was reset before any answer", async () => {
    await warmUpAndArm(0);
    const reply = await nodeFetch(new URL(`${base}/get`), { method: "GET", headers: {} });
    expect(reply.status).toBe(200);
    await reply.json();
    expect(seen.map((s) => [s.path, s.reused, s.answered])).toEqual([
      ["/get", true, false],
      ["/get", false, true],
    ]);
  });

  it("sends a bytes body again, whole", async () => {
    const body = bytes(300_000, 1);
    await warmUpAndArm(0);
    const reply = await nodeFetch(new URL(`${base}/bytes`), { method: "PUT", headers: {}, body });
    expect(await reply.json()).toEqual({ bytes: body.byteLength, sha256: sha256(body) });
    expect(seen.filter((s) => s.answered)).toHaveLength(1);
  });

  it("does not send again a POST, or a PUT with If-None-Match, that the server may have acted on", async () => {
    for (const [method, headers] of [
      ["POST", {}],
      ["PUT", { "If-None-Match": "*" }],
    ] as const) {
      await warmUpAndArm(0);
      const body = bytes(1000, 2);
      await expect(nodeFetch(new URL(`${base}/once`), { method, headers: { ...headers }, body })).rejects.toThrow();
      expect(seen.map((s) => s.path)).toEqual(["/once"]);
    }
  });

  it("re-opens a file part cut off after 2 MiB had been read (the client's multipart upload)", async () => {
    const data = bytes(12 * 1024 * 1024 + 5, 2);
    const path = join(tmp, "file.bin");
    await writeFile(path, data);
    let sent = 0;
    // A client with parts of 5 MiB, one at a time: part 2 goes out on the socket of part 1.
    const client = new PeerClient({ url: base, fetch: nodeFetch, partSize: 5 * 1024 * 1024, partConcurrency: 1 });
    const source = await fileSource(path);
    const part = (n: number, start: number, end: number) =>
      client.uploadPart("u", "f", n, source.open(start, end) as ReadableStream<Uint8Array>, end - start, undefined, () => {
        sent++;
        return source.open(start, end) as ReadableStream<Uint8Array>;
      });
    await part(1, 0, 5 * 1024 * 1024);
    seen = [];
    cutAfter = 2 * 1024 * 1024;
    const answer = (await part(2, 5 * 1024 * 1024, 10 * 1024 * 1024)) as unknown as { bytes: number; sha256: string };
    expect(answer).toEqual({ bytes: 5 * 1024 * 1024, sha256: sha256(data.subarray(5 * 1024 * 1024, 10 * 1024 * 1024)) });
    expect(sent).toBe(1);
    expect(seen.map((s) => [s.reused, s.answered])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it("re-sends a one-shot stream it still holds whole", async () => {
    const body = bytes(256 * 1024, 3);
    await warmUpAndArm(0);
    const reply = await nodeFetch(new URL(`${base}/held`), {
      method: "PUT",
      headers: { "content-length": String(body.byteLength) },
      body: oneShot(body),
      duplex: "half",
    });
    expect(await reply.json()).toEqual({ bytes: body.byteLength, sha256: sha256(body) });
  });

  it("never re-sends a one-shot stream read past what it holds: the reset is the caller's error", async () => {
    const body = bytes(4 * 1024 * 1024, 4);
    await warmUpAndArm(2 * 1024 * 1024);
    const request = nodeFetch(new URL(`${base}/one-shot`), {
      method: "PUT",
      headers: { "content-length": String(body.byteLength) },
      body: oneShot(body),
      duplex: "half",
    });
    await expect(request).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|EPIPE/) });
    expect(seen.map((s) => s.path)).toEqual(["/one-shot"]);
  });

  it("does not retry a request whose connection was fresh", async () => {
    // A server that resets every request: the first attempt is on a new socket, so no retry.
    const hostile = createServer((req) => req.socket.destroy());
    hostile.listen(0, "127.0.0.1");
    await once(hostile, "listening");
    let hits = 0;
    hostile.on("request", () => hits++);
    try {
      const url = new URL(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}/`);
      await expect(nodeFetch(url, { method: "GET", headers: {} })).rejects.toMatchObject({ code: "ECONNRESET" });
      expect(hits).toBe(1);
    } finally {
      hostile.close();
    }
  });
});
