/**
 * A request the peer refuses before reading its body (413 over the quota, 401) on a real
 * network: the client reads the JSON error, not a connection reset, and its next request on
 * the kept-alive connection is answered. Both clients: the default fetch and `nodeFetch` (CLI).
 * The drain is bounded: an unauthenticated caller cannot make the peer wait for a big body,
 * and a body that stops arriving is given up after the deadline (src/http/unreadBody.ts).
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerClient, PeerError } from "../../src/client/index";
import { nodeFetch } from "../../src/client/node";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

const MiB = 1024 * 1024;
let net: TestNetwork;

beforeAll(async () => {
  net = await startNetwork({ peers: 1, vars: { STORAGE_LIMIT_MB: "1" } });
});
afterAll(async () => {
  await net?.stop().catch(() => undefined);
  if (net) await removeTemp(net.dir);
});

/** `size` zero bytes as a stream of 64 KiB chunks, pulled as the client sends them. */
function zeros(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, 64 * 1024);
      left -= n;
      controller.enqueue(new Uint8Array(n));
    },
  });
}

const fetches = { "the default fetch": undefined, nodeFetch } as const;

describe.each(Object.entries(fetches))("a body refused unread, with %s", (_name, fetch) => {
  const client = (token?: string) => {
    const peer = net.peers[0] as (typeof net.peers)[number];
    return new PeerClient({ url: peer.url, token: token ?? peer.token, name: peer.name, fetch });
  };

  it.each([
    ["1 MiB + 1 as bytes", () => new Uint8Array(MiB + 1), MiB + 1],
    ["3 MiB streamed", () => zeros(3 * MiB), 3 * MiB],
    ["12 MiB streamed", () => zeros(12 * MiB), 12 * MiB],
  ])("answers 413 with the quota's JSON error for %s, and the next request on the connection", async (_what, body, size) => {
    const peer = client();
    for (let round = 0; round < 4; round++) {
      const refused = await peer.putFile(`too-big-${round}.bin`, body(), { size }).catch((err: unknown) => err);
      expect(refused, `round ${round}`).toBeInstanceOf(PeerError);
      expect(`${(refused as PeerError).code}: ${(refused as PeerError).message}`).toMatch(/^payload_too_large: .*STORAGE_LIMIT_MB/);
      await peer.setMemory("after", round);
    }
    expect(await peer.getMemory("after")).toBe(3);
  });

  it("answers a scoped token's JSON body over the route's limit with the guard's 413, and the next request on the connection", async () => {
    const { token } = await client().createToken({ ops: ["write"], prefix: "drop/" });
    const scoped = client(token);
    for (let round = 0; round < 4; round++) {
      // 3 MiB: over the 2 MiB a batch pull takes, refused by the guard from its length, unread.
      const refused = await scoped
        .send("POST", "/api/pulls", {
          body: zeros(3 * MiB),
          headers: { "content-type": "application/json", "content-length": String(3 * MiB) },
        })
        .catch((err: unknown) => err);
      expect(refused, `round ${round}`).toBeInstanceOf(PeerError);
      expect((refused as PeerError).code).toBe("payload_too_large");
      expect((await scoped.health()).peer).toBe("peer1");
    }
  });

  it("answers a batch put refused at or after its first line (over the quota, sizes that do not add up, a line not JSON) with its JSON error, and the next request on the connection", async () => {
    const peer = client();
    const manifest = (size: number) => new TextEncoder().encode(`${JSON.stringify({ files: [{ name: "batch/x.bin", size }] })}\n`);
    for (let round = 0; round < 4; round++) {
      // 3 MiB declared and sent: over the 1 MiB quota, refused once the line is read, the bytes unread.
      const over = await peer.putFiles([{ name: "batch/x.bin", bytes: new Uint8Array(3 * MiB) }]).catch((err: unknown) => err);
      expect(over, `round ${round}`).toBeInstanceOf(PeerError);
      expect((over as PeerError).code).toBe("payload_too_large");
      expect((await peer.health()).peer).toBe("peer1");
      // The line declares 10 bytes, 2 MiB follow: 400 before anything is stored, the rest unread.
      const line = manifest(10);
      const body = new Uint8Array(line.byteLength + 2 * MiB);
      body.set(line);
      const mismatch = await peer
        .send("POST", "/api/puts", { body, headers: { "content-length": String(body.byteLength) } })
        .catch((err: unknown) => err);
      expect(mismatch, `round ${round}`).toBeInstanceOf(PeerError);
      expect(`${(mismatch as PeerError).code}: ${(mismatch as PeerError).message}`).toMatch(/^bad_request: Content-Length is/);
      expect((await peer.health()).peer).toBe("peer1");
      // A first line that is not JSON, 8 MiB after it: refused while the line is parsed, the rest unread.
      const garbled = new Uint8Array(9 + 8 * MiB);
      garbled.set(new TextEncoder().encode("files: x\n"));
      const notJson = await peer
        .send("POST", "/api/puts", { body: garbled, headers: { "content-length": String(garbled.byteLength) } })
        .catch((err: unknown) => err);
      expect(`${(notJson as PeerError).code}: ${(notJson as PeerError).message}`, `round ${round}`).toMatch(
        /^bad_request: .*not valid JSON/,
      );
      expect((await peer.health()).peer).toBe("peer1");
    }
    expect(await peer.headFile("batch/x.bin")).toBeNull();
  });

  // Up to 64 KiB: what the peer still drains for a caller it has not authenticated.
  it("answers 401 with its JSON error to a wrong token's upload, and the next request on the connection", async () => {
    const stranger = client("not-the-token");
    for (let round = 0; round < 4; round++) {
      const refused = await stranger.putFile("x.bin", zeros(64 * 1024), { size: 64 * 1024 }).catch((err: unknown) => err);
      expect(`${(refused as PeerError).code}`, `round ${round}`).toBe("unauthorized");
      expect((await stranger.health()).peer).toBe("peer1");
    }
  });
});

/**
 * Sends `head` and the first bytes of a body on a raw connection, and never the rest: the
 * promise is what the peer answers (status line to the end of its JSON body) while the body
 * it was promised is still unfinished.
 */
function sendUnfinished(path: string, headers: Record<string, string>, first: Uint8Array): Promise<string> {
  const url = new URL((net.peers[0] as (typeof net.peers)[number]).url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = "";
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.on("connect", () => {
      const lines = [`PUT ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      socket.write(first);
    });
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) done();
    });
    socket.on("end", done);
    socket.on("error", (err) => (text ? done() : reject(err)));
  });
}

describe("a refused body that never arrives", () => {
  it("gets an unauthenticated upload its 401 without waiting for its body, and a stalled drain its answer after the deadline", async () => {
    const peer = net.peers[0] as (typeof net.peers)[number];
    const answered: string[] = [];
    // Authenticated and over the 1 MiB quota: its 2 MiB are drained, but only 3 bytes come.
    const stalled = sendUnfinished(
      "/api/files/stalled.bin",
      { authorization: `Bearer ${peer.token}`, "content-length": String(2 * MiB) },
      new Uint8Array(3),
    ).then((text) => {
      answered.push("stalled 413");
      return text;
    });
    // No token, 16 MiB declared, 3 bytes sent: more than an anonymous caller gets drained.
    const anonymous = await sendUnfinished("/api/files/x.bin", { "content-length": String(16 * MiB) }, new Uint8Array(3));
    answered.push("anonymous 401");
    expect(anonymous).toMatch(/^HTTP\/1\.1 401 /);
    expect(anonymous).toContain('"code":"unauthorized"');
    // Answered while the authenticated drain still waits for bytes that never come…
    expect(answered).toEqual(["anonymous 401"]);
    // …which the deadline ends: the answer goes out with the body still unfinished.
    const late = await stalled;
    expect(late).toMatch(/^HTTP\/1\.1 413 /);
    expect(late).toContain('"code":"payload_too_large"');
    expect(answered).toEqual(["anonymous 401", "stalled 413"]);
  }, 60_000);
});
