import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

let net: TestNetwork;

beforeAll(async () => {
  net = await startNetwork({ peers: 1 });
});

afterAll(async () => {
  await net?.stop();
  if (net) await removeTemp(net.dir);
});

/** A raw HTTP GET, so nothing between the test and the peer decodes or re-frames the body. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

describe("files on the wire", () => {
  it("sends a text file as stored, with Content-Length, to a client that accepts gzip", async () => {
    const peer = net.peers[0]!;
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\n");
    const client = net.client(peer.name);
    await client.putFile("wire/lines.txt", new TextEncoder().encode(text), { contentType: "text/plain" });
    const res = await rawGet(`${peer.url}/api/files/wire/lines.txt`, {
      authorization: `Bearer ${peer.token}`,
      "accept-encoding": "gzip, br",
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(text)));
    expect(res.headers["content-encoding"]).not.toMatch(/gzip|br/);
    expect(res.body.toString("utf8")).toBe(text);
  });
});
