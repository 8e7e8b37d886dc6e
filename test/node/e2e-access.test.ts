import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestNetwork, cli, removeTemp, startNetwork } from "../support/network";

/** Scoped tokens and share links end to end: the real CLI against a real local network. */

let net: TestNetwork;
let N: string[];

beforeAll(async () => {
  net = await startNetwork({ peers: 1 });
  N = ["--network", net.file, "--peer", "peer1"];
  const peer1 = net.client("peer1");
  await peer1.putFile("photos/a.txt", "a photo");
  await peer1.putFile("private/b.txt", "private");
});

afterAll(async () => {
  await net?.stop();
  await removeTemp(net?.dir ?? "");
});

describe("edgepeer token", () => {
  it("mints a read token for one folder that reads it and nothing else, then revokes it", async () => {
    const created = await cli([...N, "token", "create", "--ops", "read", "--prefix", "photos/", "--ttl", "7d", "--label", "friend"]);
    expect(created.stderr).toContain("friend");
    expect(created.code).toBe(0);
    const token = created.stdout.toString().trim();
    expect(token).toMatch(/^ept1_[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);

    const as = [...N, "--token", token];
    const read = await cli([...as, "get-file", "--filename", "photos/a.txt"]);
    expect(read.code).toBe(0);
    expect(read.stdout.toString()).toBe("a photo");
    const outside = await cli([...as, "get-file", "--filename", "private/b.txt"]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/prefix/);
    const write = await cli([...as, "set-mem", "--key", "photos/k", "--value", "1"]);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/memory/);
    const listing = await cli([...as, "list-files"]);
    expect(listing.code).toBe(1);
    expect((await cli([...as, "list-files", "--prefix", "photos/"])).stdout.toString()).toContain("photos/a.txt");

    // Narrowed offline: the same token for one subfolder only.
    const narrowed = await cli(["token", "narrow", "--from", token, "--prefix", "photos/2025/", "--ttl", "1h"]);
    expect(narrowed.code).toBe(0);
    const sub = narrowed.stdout.toString().trim();
    expect(sub).toMatch(/^ept1_[A-Za-z0-9_-]+~[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);
    const narrowedRead = await cli([...N, "--token", sub, "get-file", "--filename", "photos/a.txt"]);
    expect(narrowedRead.code).toBe(1);
    expect(narrowedRead.stderr).toMatch(/prefix/);

    const list = await cli([...N, "token", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(list.stdout.toString()).not.toContain(token);
    const { tokens } = JSON.parse(list.stdout.toString()) as {
      tokens: Array<{ id: string; label: string; prefix: string; ops: string[] }>;
    };
    const mine = tokens.find((t) => t.label === "friend");
    expect(mine).toMatchObject({ prefix: "photos/", ops: ["read"] });

    const revoked = await cli([...N, "token", "revoke", "--id", mine!.id]);
    expect(revoked.code).toBe(0);
    const after = await cli([...as, "get-file", "--filename", "photos/a.txt"]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/revoked/);
  });

  it("refuses a malformed --ops or --ttl as a usage error", async () => {
    expect((await cli([...N, "token", "create", "--ops", "admin"])).code).toBe(2);
    expect((await cli([...N, "token", "create", "--ops", "read", "--ttl", "soon"])).code).toBe(2);
  });
});

describe("edgepeer share and shares", () => {
  it("makes a link with a password and a download cap, lists it and revokes it", async () => {
    const made = await cli([...N, "--json", "share", "--filename", "photos/a.txt", "--password", "s3cret", "--max-downloads", "1"]);
    expect(made.code).toBe(0);
    const link = JSON.parse(made.stdout.toString()) as { url: string; id: string };

    const bare = await fetch(link.url);
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toMatch(/^Basic realm="edgepeer share"/);
    const auth = { authorization: `Basic ${Buffer.from(":s3cret").toString("base64")}` };
    const ok = await fetch(link.url, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("a photo");
    const again = await fetch(link.url, { headers: auth });
    expect(again.status).toBe(410);

    const listed = await cli([...N, "shares", "list"]);
    expect(listed.code).toBe(0);
    const line = listed.stdout
      .toString()
      .split("\n")
      .find((l) => l.startsWith(link.id));
    expect(line).toContain("photos/a.txt");
    expect(line).toContain("1/1 downloads");
    expect(line).toContain("password");
    expect(listed.stdout.toString()).not.toContain("s3cret");

    expect((await cli([...N, "shares", "revoke", "--id", link.id])).code).toBe(0);
    expect((await cli([...N, "shares", "list"])).stdout.toString()).not.toContain(link.id);
  });

  it("serves a link only for the version it was made for", async () => {
    const made = await cli([...N, "share", "--filename", "private/b.txt"]);
    const url = made.stdout.toString().trim();
    expect((await fetch(url)).status).toBe(200);
    await net.client("peer1").putFile("private/b.txt", "new bytes");
    const res = await fetch(url);
    expect(res.status).toBe(410);
    expect(await res.text()).not.toContain("new bytes");
  });
});
