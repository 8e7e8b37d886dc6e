/**
 * A request the peer refuses before reading its body (413 over the quota, 401) on a real
 * network: the client reads the JSON error, not a connection reset, and its next request on
 * the kept-alive connection is answered. Both clients: the default fetch and `nodeFetch` (CLI).
 */
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

  it("answers 401 with its JSON error to a wrong token's upload, and the next request on the connection", async () => {
    const stranger = client("not-the-token");
    for (let round = 0; round < 4; round++) {
      const refused = await stranger.putFile("x.bin", zeros(3 * MiB), { size: 3 * MiB }).catch((err: unknown) => err);
      expect(`${(refused as PeerError).code}`, `round ${round}`).toBe("unauthorized");
      expect((await stranger.health()).peer).toBe("peer1");
    }
  });
});
