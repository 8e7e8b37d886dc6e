import { SELF, env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { PBKDF2_ITERATIONS, hashPassword, passwordMatches } from "../../src/access/passwords";
import { call, errorOf, putFile } from "../support/http";

interface Link {
  url: string;
  expires: string;
  id: string;
}

async function share(name: string, body: Record<string, unknown> = {}): Promise<Link> {
  const res = await call(`/api/files/${name}/share`, { method: "POST", body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${btoa(`${user}:${password}`)}` });

interface Listed {
  id: string;
  name: string;
  expires: string;
  downloads: number;
  maxDownloads: number | null;
  password: boolean;
}

async function listed(id: string): Promise<Listed | undefined> {
  const res = await call("/api/shares");
  expect(res.status).toBe(200);
  const { shares } = (await res.json()) as { shares: Listed[] };
  return shares.find((s) => s.id === id);
}

describe("share links: the version they were made for", () => {
  it("answers 410 once the file is replaced, and never serves the new bytes", async () => {
    await putFile("v.txt", "version one");
    const link = await share("v.txt");
    expect(await (await SELF.fetch(link.url)).text()).toBe("version one");
    await putFile("v.txt", "version two");
    const inits: RequestInit[] = [{}, { headers: { range: "bytes=0-3" } }, { method: "HEAD" }, { headers: { "if-none-match": '"x"' } }];
    for (const init of inits) {
      const res = await SELF.fetch(link.url, init);
      expect(res.status, JSON.stringify(init)).toBe(410);
      if (res.status !== 410 || init.method === "HEAD") continue;
      expect((await errorOf(res)).code).toBe("gone");
    }
  });

  it("answers 410 once the file is deleted, even if a file of that name comes back", async () => {
    await putFile("d.txt", "d");
    const link = await share("d.txt");
    expect((await call("/api/files/d.txt", { method: "DELETE" })).status).toBe(204);
    expect((await SELF.fetch(link.url)).status).toBe(410);
    await putFile("d.txt", "d");
    expect((await SELF.fetch(link.url)).status).toBe(410);
  });
});

describe("share links: list and revoke", () => {
  it("lists a link without its URL or password, and revokes it: 410 from then on", async () => {
    await putFile("r.txt", "r");
    const link = await share("r.txt", { ttl: 600, password: "pw", maxDownloads: 3 });
    const text = await (await call("/api/shares")).text();
    expect(text).not.toContain(new URL(link.url).searchParams.get("sig"));
    expect(text).not.toContain('"pw"');
    expect(await listed(link.id)).toEqual({
      id: link.id,
      name: "r.txt",
      expires: link.expires,
      downloads: 0,
      maxDownloads: 3,
      password: true,
    });
    expect((await call(`/api/shares/${link.id}`, { method: "DELETE" })).status).toBe(204);
    const res = await SELF.fetch(link.url, { headers: basic("", "pw") });
    expect(res.status).toBe(410);
    expect(await listed(link.id)).toBeUndefined();
    expect((await call(`/api/shares/${link.id}`, { method: "DELETE" })).status).toBe(404);
  });
});

describe("share links: a password", () => {
  it("challenges with Basic until the password matches, whatever the user name", async () => {
    await putFile("secret.txt", "the secret");
    const link = await share("secret.txt", { password: "open sesame" });
    const bare = await SELF.fetch(link.url);
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toMatch(/^Basic realm="edgepeer share"/);
    expect((await errorOf(bare)).code).toBe("unauthorized");
    const wrong = await SELF.fetch(link.url, { headers: basic("any", "open sesame!") });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic realm="edgepeer share"/);
    for (const user of ["", "alice"]) {
      const ok = await SELF.fetch(link.url, { headers: basic(user, "open sesame") });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("the secret");
    }
    expect((await listed(link.id))?.downloads).toBe(2);
  });

  it("stores the password only as a salted PBKDF2 hash", async () => {
    const a = await hashPassword("same");
    const b = await hashPassword("same");
    expect(a.iterations).toBe(PBKDF2_ITERATIONS);
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(JSON.stringify(a)).not.toContain("same");
  });

  it("does the same PBKDF2 for a wrong password as for the right one", async () => {
    const stored = await hashPassword("right");
    const spy = vi.spyOn(crypto.subtle, "deriveBits");
    try {
      expect(await passwordMatches(stored, "right")).toBe(true);
      expect(await passwordMatches(stored, "wrong, and much longer than the right one")).toBe(false);
      expect(await passwordMatches(stored, "")).toBe(false);
      expect(spy).toHaveBeenCalledTimes(3);
      const algorithms = spy.mock.calls.map(([algorithm]) => algorithm as { salt: BufferSource });
      for (const a of algorithms)
        expect({ ...a, salt: [...new Uint8Array(a.salt as Uint8Array)] }).toEqual({
          name: "PBKDF2",
          hash: "SHA-256",
          iterations: PBKDF2_ITERATIONS,
          salt: [...new Uint8Array(algorithms[0]!.salt as Uint8Array)],
        });
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses a password over 1024 characters with 400", async () => {
    await putFile("p.txt", "p");
    const res = await call("/api/files/p.txt/share", { method: "POST", body: JSON.stringify({ password: "x".repeat(1025) }) });
    expect(res.status).toBe(400);
  });
});

describe("share links: a download cap", () => {
  it("counts each GET from byte 0 and answers 410 past the cap; ranges further in and HEAD do not count", async () => {
    await putFile("cap.txt", "0123456789");
    const link = await share("cap.txt", { maxDownloads: 2 });
    expect((await SELF.fetch(link.url, { method: "HEAD" })).status).toBe(200);
    const tail = await SELF.fetch(link.url, { headers: { range: "bytes=5-" } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe("56789");
    expect((await listed(link.id))?.downloads).toBe(0);
    expect(await (await SELF.fetch(link.url)).text()).toBe("0123456789");
    const head = await SELF.fetch(link.url, { headers: { range: "bytes=0-1" } });
    expect(head.status).toBe(206);
    await head.body?.cancel();
    const over = await SELF.fetch(link.url);
    expect(over.status).toBe(410);
    expect((await errorOf(over)).message).toContain("used up");
    expect((await listed(link.id))?.downloads).toBe(2);
  });

  it("counts every GET that sends byte 0 — a suffix range over the whole file, a Range the peer ignores, an If-Range that fails — so none passes the cap", async () => {
    await putFile("cap2.txt", "0123456789");
    const link = await share("cap2.txt", { maxDownloads: 1 });
    expect(await (await SELF.fetch(link.url)).text()).toBe("0123456789");
    // Each of these would send the whole file: suffix longer than it, reversed, several ranges, malformed.
    for (const range of ["bytes=-100", "bytes=5-3", "bytes=1-2, 4-5", "bytes=x"]) {
      const res = await SELF.fetch(link.url, { headers: { range } });
      expect(res.status, range).toBe(410);
      await res.body?.cancel();
    }
    // A range further in whose If-Range does not match is answered whole: a download too.
    const stale = await SELF.fetch(link.url, { headers: { range: "bytes=5-", "if-range": '"not-the-etag"' } });
    expect(stale.status).toBe(410);
    await stale.body?.cancel();
    // A suffix range that leaves byte 0 out is a resumed download, not a new one.
    const tail = await SELF.fetch(link.url, { headers: { range: "bytes=-3" } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe("789");
    expect((await listed(link.id))?.downloads).toBe(1);
  });

  it("never lets concurrent downloads past the cap", async () => {
    await putFile("race.txt", "r".repeat(1000));
    const link = await share("race.txt", { maxDownloads: 5 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const res = await SELF.fetch(link.url);
        await res.body?.cancel();
        return res.status;
      }),
    );
    expect(answers.filter((s) => s === 200)).toHaveLength(5);
    expect(answers.filter((s) => s === 410)).toHaveLength(25);
    expect((await listed(link.id))?.downloads).toBe(5);
  });

  it("refuses a cap below 1 with 400", async () => {
    await putFile("c0.txt", "c");
    for (const maxDownloads of [0, -1, 1.5, "3"]) {
      const res = await call("/api/files/c0.txt/share", { method: "POST", body: JSON.stringify({ maxDownloads }) });
      expect(res.status, String(maxDownloads)).toBe(400);
    }
  });
});

describe("share links and scoped tokens", () => {
  it("lets a read token share only under its prefix", async () => {
    await putFile("photos/s.txt", "s");
    await putFile("private/s.txt", "p");
    const minted = await call("/api/tokens", { method: "POST", body: JSON.stringify({ ops: ["read"], prefix: "photos/" }) });
    const { token } = (await minted.json()) as { token: string };
    expect((await call("/api/files/private/s.txt/share", { method: "POST", token })).status).toBe(403);
    const ok = await call("/api/files/photos/s.txt/share", { method: "POST", token });
    expect(ok.status).toBe(200);
    expect(await (await SELF.fetch(((await ok.json()) as Link).url)).text()).toBe("s");
    expect(env.ACCESS).toBeDefined();
  });
});
