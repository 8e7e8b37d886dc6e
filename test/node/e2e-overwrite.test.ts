import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RandomAccessSource } from "../../src/client/index";
import { type TestNetwork, startNetwork } from "../support/network";

/**
 * A multipart upload over an existing file whose parts arrive out of turn: the peer cannot
 * verify the digest before replacing the file, keeps it and answers 409 with the upload open;
 * the client then completes without the digest and checks the answer's itself.
 */
let net: TestNetwork;

beforeAll(async () => {
  net = await startNetwork({ peers: 1 });
});

afterAll(async () => {
  await net?.stop();
});

const MiB = 1024 * 1024;

/** `bytes` readable from any offset; the first part is held back 1.5 s, so later parts arrive first. */
function lateFirstPart(bytes: Uint8Array): RandomAccessSource {
  return {
    size: bytes.length,
    open(start, end) {
      const slice = bytes.slice(start, end);
      return new ReadableStream({
        async start(controller) {
          if (start === 0) await new Promise((r) => setTimeout(r, 1500));
          controller.enqueue(slice);
          controller.close();
        },
      });
    },
  };
}

describe("multipart overwrite with parts out of turn", () => {
  it("replaces the file with the new bytes, verified by the client, when the peer could not verify first", async () => {
    const client = net.client("peer1", { multipartThreshold: 5 * MiB });
    const old = new Uint8Array(randomBytes(MiB));
    await client.putFile("big.bin", old);
    // Four 16 MiB parts, three at once, the first held back: 48 MiB arrive before it.
    const bytes = new Uint8Array(randomBytes(64 * MiB));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const meta = await client.upload("big.bin", lateFirstPart(bytes), { sha256 });
    expect(meta.sha256).toBe(sha256);
    expect(
      createHash("sha256")
        .update(await client.getFileBytes("big.bin"))
        .digest("hex"),
    ).toBe(sha256);
  });
});
