import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { ANSWERS, ErrorBody, type NonJson, type Route } from "../../src/api/shapes";
import { type FetchLike, PeerClient } from "../../src/client/index";
import { type TestNetwork, cli, startNetwork } from "../support/network";

/**
 * One source of truth for the API's answers (src/api/shapes.ts): every `/api/` route of the
 * route table is driven through the client against a real network, and every answer is
 * parsed with the strict schema of its route. A field the peer renames, retypes or adds
 * without the schema (and so the client's types, inferred from it) fails here.
 */

interface Exchange {
  method: string;
  path: string;
  status: number;
  body: string;
}

let net: TestNetwork;
const exchanges: Exchange[] = [];

beforeAll(async () => {
  net = await startNetwork({ peers: 2 });
});

afterAll(async () => {
  await net?.stop();
});

/** A client of a peer of the network that keeps a copy of every answer. */
function recordingClient(name: string): PeerClient {
  const peer = net.peers.find((p) => p.name === name)!;
  const fetch: FetchLike = async (url, init) => {
    const response = await globalThis.fetch(url, init);
    const copy = response.clone();
    exchanges.push({ method: init.method ?? "GET", path: url.pathname, status: response.status, body: await copy.text() });
    return response;
  };
  return new PeerClient({ url: peer.url, token: peer.token, name: peer.name, fetch });
}

/** The `/api/` routes of src/index.ts as "METHOD path", `:name+` written `{name}`, with a matcher each. */
function apiRoutes(): Array<{ route: string; method: string; regex: RegExp }> {
  const source = readFileSync(new URL("../../src/index.ts", import.meta.url), "utf8");
  const block = /const routes\b[^=]*=\s*\[([\s\S]*?)\n\];/.exec(source)?.[1] ?? "";
  const entries = [...block.matchAll(/\[\s*["']([^"']+)["']\s*,\s*\{([^}]*)\}/g)];
  expect(entries.length, "route entries parsed").toBe(block.match(/\[\s*["']\//g)?.length);
  const out: Array<{ route: string; method: string; regex: RegExp }> = [];
  for (const [, path = "", methods = ""] of entries) {
    if (!path.startsWith("/api/")) continue;
    const regex = new RegExp(`^${path.replace(/:(\w+)\+/g, "(.+)").replace(/:(\w+)/g, "([^/]+)")}$`);
    for (const [, method = ""] of methods.matchAll(/\b([A-Z]+)\s*:/g)) {
      out.push({ route: `${method} ${path.replace(/:(\w+)\+?/g, "{$1}")}`, method, regex });
    }
  }
  return out;
}

describe("every answer has the shape of src/api/shapes.ts", () => {
  it("drives every /api/ route through the client and parses each answer with its route's schema", async () => {
    const peer1 = recordingClient("peer1");
    const peer2 = recordingClient("peer2");

    await peer1.health();
    await peer1.peers();
    await peer1.putFile("shapes/a.txt", "shape of things", { contentType: "text/plain" });
    await peer1.listFiles({ prefix: "shapes/" });
    await peer1.headFile("shapes/a.txt");
    await peer1.getFileBytes("shapes/a.txt");
    const link = await peer1.shareFile("shapes/a.txt", 600);
    await peer2.pullFile("shapes/pulled.txt", link.url);
    const byName = await peer1.transferLinks(["shapes/a.txt", "shapes/absent.txt"], { ttl: 600 });
    expect(byName.missing).toEqual(["shapes/absent.txt"]);
    const listed = (await peer1.listFiles({ prefix: "shapes/" })).files.filter((f) => f.name === "shapes/a.txt");
    const { links } = await peer1.transferLinks(listed);
    const pulled = await peer2.pullFiles([
      { from: links[0]!.url, name: "shapes/batch/a.txt", size: listed[0]!.size, sha256: listed[0]!.sha256 ?? undefined },
      { from: links[0]!.url, name: "shapes/batch/wrong.txt", size: listed[0]!.size, sha256: "0".repeat(64) },
    ]);
    expect(pulled.map((r) => r.ok)).toEqual([true, false]);
    const put = await peer2.putFiles([
      { name: "shapes/put/a.txt", bytes: new TextEncoder().encode("alpha"), contentType: "text/plain" },
      { name: "shapes/put/wrong.txt", bytes: new TextEncoder().encode("beta"), sha256: "0".repeat(64) },
    ]);
    expect(put.map((r) => r.ok)).toEqual([true, false]);

    await peer1.listFiles({ prefix: "shapes/", delimiter: "/" });
    await peer1.searchFiles({ search: "A.TXT", prefix: "shapes/" });
    await peer1.createFolder("shapes/empty");
    await peer1.copyFile("shapes/a.txt", "shapes/copied/a.txt");
    await peer1.moveFile("shapes/copied/a.txt", "shapes/moved/a.txt");
    await peer1.copyFolder("shapes/moved", "shapes/folder-copy");
    await peer1.moveFolder("shapes/folder-copy/", "shapes/folder-moved");
    // With recursive=true: the JSON answer (an empty folder is a 204 with no body).
    await peer1.deleteFolder("shapes/folder-moved", { recursive: true });
    for (const zip of [await peer1.zip({ prefix: "shapes/" }), await peer1.zip({ names: ["shapes/a.txt", "shapes/moved/"] })]) {
      await new Response(zip.body).arrayBuffer();
    }

    const created = await peer1.createUpload("shapes/parts.bin", "application/octet-stream");
    const part = await peer1.uploadPart(created.uploadId, "shapes/parts.bin", 1, new Uint8Array(1000), 1000);
    await peer1.completeUpload(created.uploadId, "shapes/parts.bin", [part]);
    const aborted = await peer1.createUpload("shapes/aborted.bin");
    await peer1.abortUpload(aborted.uploadId, "shapes/aborted.bin");
    await peer1.deleteFile("shapes/parts.bin");

    await peer1.setMemory("shapes/plain", { n: 1 });
    await peer1.setMemory("shapes/expiring", "soon", 3600);
    await peer1.listMemory({ prefix: "shapes/" });
    await peer1.getMemory("shapes/plain");
    await peer1.deleteMemory("shapes/plain");
    await expect(peer1.getMemory("shapes/plain")).rejects.toMatchObject({ code: "not_found" });

    const ok = await peer1.runTask({ program: "function main(s) { return s.repeat(3) }", args: ["ab"] });
    await peer1.runTask({ program: "function main() { throw new Error('no') }" });
    await peer1.runBatch([{ program: "function main(x) { return x * 2 }", args: [21] }, { program: "syntax error(" }]);
    await peer1.listTasks({ limit: 5 });
    await peer1.getTask(ok.id);
    await peer1.cacheInfo();
    await peer1.stats();
    await peer1.clearCache();
    await peer1.clearHistory();

    const minted = await peer1.createToken({ ops: ["read", "memory"], prefix: "shapes/", ttl: 600, label: "shapes" });
    await peer1.createToken({ ops: ["tasks"] });
    await peer1.listTokens();
    await peer1.revokeToken(minted.id);
    await peer1.shareFile("shapes/a.txt", { ttl: 600, password: "pw", maxDownloads: 2 });
    await peer1.listShares();
    await peer1.revokeShare(link.id);

    await peer1.putReplicationRule("shapes", { prefix: "shapes/", to: "peer2", token: net.peers[1]?.token ?? "" });
    await peer1.replicationRules();
    await peer1.reconcileReplication("shapes");
    await peer1.replicaStates("shapes", { prefix: "shapes/" });
    await peer1.deleteReplicationRule("shapes");

    const routes = apiRoutes();
    // The table of shapes and the route table name the same routes.
    expect(Object.keys(ANSWERS).sort()).toEqual(routes.map((r) => r.route).sort());

    const answered = new Set<string>();
    for (const x of exchanges) {
      const match = routes.find((r) => r.method === x.method && r.regex.test(x.path));
      expect(match, `${x.method} ${x.path} matches a route`).toBeDefined();
      const route = match!.route as Route;
      const what = `${route} (${x.status}): ${x.body.slice(0, 300)}`;
      if (x.status >= 400) {
        if (x.method !== "HEAD") ErrorBody.parse(JSON.parse(x.body));
        continue;
      }
      const shape: z.ZodType | NonJson = ANSWERS[route];
      if (shape === "empty") expect(x.body, what).toBe("");
      else if (shape !== "bytes") {
        const parsed = shape.safeParse(JSON.parse(x.body));
        expect(parsed.error?.issues ?? [], what).toEqual([]);
      }
      answered.add(route);
    }
    // Every route answered at least once with success, through the client.
    expect([...answered].sort()).toEqual(Object.keys(ANSWERS).sort());
  });

  it("lists a key with a TTL in the CLI, its expiry time after the TTL and not long after", async () => {
    const peer1 = net.client("peer1");
    const before = Date.now();
    await peer1.setMemory("ttl/key", 1, 3600);
    await peer1.setMemory("ttl/forever", 2);
    const after = Date.now();
    const listed = await cli(["--network", net.file, "--peer", "peer1", "list-mem", "--prefix", "ttl/"]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    const lines = listed.stdout.toString().trim().split("\n");
    expect(lines).toContain("ttl/forever");
    const expiring = lines.find((l) => l.startsWith("ttl/key\t"));
    const expires = Date.parse(/\(expires (.+)\)$/.exec(expiring ?? "")?.[1] ?? "");
    // KV keeps whole seconds: the expiry is the TTL from the write, to the second.
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
    expect(expires).toBeLessThanOrEqual(Math.ceil(after / 1000) * 1000 + 3600_000);
  });

  it("shows a history result in the CLI as the JSON text it is, not quoted again", async () => {
    const peer1 = net.client("peer1");
    await peer1.runTask({ program: "function main() { return 'text' }", cache: false });
    await peer1.runTask({ program: "function main() { return 144 }", cache: false });
    const history = await cli(["--network", net.file, "--peer", "peer1", "history", "--limit", "2"]);
    expect(history.code).toBe(0);
    const rows = history.stdout.toString().trim().split("\n").slice(1);
    expect(rows[0]).toMatch(/\s144$/);
    expect(rows[1]).toMatch(/\s"text"$/);
  });

  it("refuses a wrong shape: the schemas are strict", () => {
    expect(ANSWERS["GET /api/memory"].safeParse({ keys: [{ key: "k", expires: 1767225600 }], cursor: null }).success).toBe(false);
    expect(ANSWERS["GET /api/health"].safeParse({ peer: "p", version: "1", time: new Date().toISOString(), extra: 1 }).success).toBe(false);
  });
});
