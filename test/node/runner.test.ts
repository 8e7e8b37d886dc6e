/**
 * The network runner itself (`npm start`): `--var NAME=VALUE` reaches every peer, and a peer
 * whose workerd dies (kill -9) is started again on its port with its data, and the runner
 * says so on stderr.
 */
import { afterAll, describe, expect, it } from "vitest";
import { PeerError } from "../../src/client/index";
import { type TestNetwork, removeTemp, runNode, startNetwork, workerdPid } from "../support/network";

const networks: TestNetwork[] = [];
afterAll(async () => {
  for (const net of networks) {
    await net.stop().catch(() => undefined);
    await removeTemp(net.dir);
  }
});

/** Asks `ask` until it answers true, at most `tries` times a quarter second apart. */
async function eventually(ask: () => Promise<boolean>, tries = 120): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await ask().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

describe("npm start -- --var NAME=VALUE", () => {
  it("sets the var on every peer for this run", async () => {
    const net = await startNetwork({ peers: 2, vars: { STORAGE_LIMIT_MB: "1", MEMORY_MAX_KEYS: "1" } });
    networks.push(net);
    expect(net.output()).toContain("vars for every peer: STORAGE_LIMIT_MB=1 MEMORY_MAX_KEYS=1");
    for (const peer of net.peers) {
      const client = net.client(peer.name);
      // The refused upload first: the requests after it reuse its kept-alive connection.
      const refused = await client.putFile("too-big.bin", new Uint8Array(1024 * 1024 + 1)).catch((err: unknown) => err);
      expect(refused, peer.name).toBeInstanceOf(PeerError);
      expect((refused as PeerError).code).toBe("payload_too_large");
      expect((refused as PeerError).message).toContain("STORAGE_LIMIT_MB");
      await client.setMemory("one", 1);
      const second = await client.setMemory("two", 2).catch((err: unknown) => err);
      expect((second as PeerError).message, peer.name).toContain("MEMORY_MAX_KEYS");
    }
  });

  it.each([
    ["a flag without =", ["--var", "STORAGE_LIMIT_MB"], "NAME=VALUE"],
    ["a malformed name", ["--var", "BAD NAME=1"], "NAME=VALUE"],
    ["a var the runner sets per peer", ["--var", "PEER_NAME=x"], "PEER_NAME"],
  ])("refuses %s as a usage error (exit 2)", async (_why, args, message) => {
    const result = await runNode("dist/network.js", [...args, "--port", "1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("usage: npm start");
  });
});

describe("a peer whose workerd dies", () => {
  it("is restarted on its port with its old data, and the runner says so on stderr", async () => {
    const net = await startNetwork({ peers: 2 });
    networks.push(net);
    const peer2 = net.client("peer2");
    const bytes = new TextEncoder().encode("kept across a kill -9");
    await peer2.putFile("survivor.txt", bytes);
    await peer2.setMemory("survivor", { kept: true });

    const pid = workerdPid(net.port + 1);
    process.kill(pid, "SIGKILL");

    const back = await eventually(async () => /peer2 restarted/.test(net.output()) && (await peer2.health()).peer === "peer2");
    expect(back, `peer2 did not come back:\n${net.output()}`).toBe(true);
    expect(net.output()).toContain(`peer2's workerd (pid ${pid}) stopped unexpectedly; restarting it`);
    expect(workerdPid(net.port + 1)).not.toBe(pid);
    expect(await peer2.getFileBytes("survivor.txt")).toEqual(bytes);
    expect(await peer2.getMemory("survivor")).toEqual({ kept: true });
    // peer1 never stopped, and the runner is still the one that started it.
    expect((await net.client("peer1").health()).peer).toBe("peer1");
    expect(net.child.exitCode).toBeNull();
  });
});
