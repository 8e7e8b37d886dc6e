/**
 * The listing merge under `checkPeers`/`syncPeers` at a scale the e2e network cannot hold in CI
 * time: 100,000 files a side, served page by page by an HTTP answerer that speaks
 * `GET /api/files` as the contract says (name order, `cursor`, at most `limit`, markers absent
 * or present). The e2e tests (e2e-sync.test.ts) run the same code against real peers.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FetchLike, type FileMeta, PeerClient, type Reply, checkPeers, compareNames, planSync } from "../../src/client/index";

const sha = (seed: string) => seed.padEnd(64, "0").slice(0, 64);

/** A peer's listing of `files` (sorted here): every request is recorded. */
function listingPeer(name: string, files: FileMeta[], before?: (url: URL) => Promise<void>): { client: PeerClient; calls: URL[] } {
  const sorted = [...files].sort((x, y) => compareNames(x.name, y.name));
  const calls: URL[] = [];
  const fetch: FetchLike = async (url) => {
    calls.push(url);
    await before?.(url);
    if (url.pathname !== "/api/files") throw new Error(`unexpected request ${url.pathname}`);
    const prefix = url.searchParams.get("prefix") ?? "";
    const limit = Number(url.searchParams.get("limit") ?? 1000);
    let at = Number(url.searchParams.get("cursor") ?? 0);
    const page: FileMeta[] = [];
    while (at < sorted.length && page.length < limit) {
      const file = sorted[at++] as FileMeta;
      if (file.name.startsWith(prefix)) page.push(file);
    }
    const body = JSON.stringify({ files: page, cursor: at < sorted.length ? String(at) : null });
    return new Response(body, { headers: { "content-type": "application/json" } }) as Reply;
  };
  return { client: new PeerClient({ url: `http://${name}.test`, name, fetch }), calls };
}

const file = (name: string, size = 10, seed = name): FileMeta => ({
  name,
  size,
  etag: "e",
  sha256: sha(seed),
  contentType: "application/octet-stream",
  uploaded: "2026-01-01T00:00:00.000Z",
});

describe("checkPeers on 100,000 files a side", () => {
  it("finds the planted differences with one listing request per 1000 files, whatever the file count", async () => {
    const a: FileMeta[] = [];
    const b: FileMeta[] = [];
    for (let i = 0; i < 100_000; i++) {
      const name = `photos/${String(i).padStart(6, "0")}.bin`;
      if (i % 25_000 === 1)
        a.push(file(name)); // only on A
      else if (i % 25_000 === 2)
        b.push(file(name)); // only on B
      else if (i % 25_000 === 3) {
        a.push(file(name, 10, "one"));
        b.push(file(name, 10, "other")); // same size, other content
      } else {
        a.push(file(name));
        b.push(file(name));
      }
    }
    const left = listingPeer("A", a);
    const right = listingPeer("B", b);
    const report = await checkPeers(left.client, right.client, { prefix: "photos" });
    expect([report.identical, report.differ, report.onlyOnA, report.onlyOnB]).toEqual([100_000 - 12, 4, 4, 4]);
    expect(report.differences.map((d) => `${d.status} ${d.path}`)).toEqual(
      [1, 2, 3, 25_001, 25_002, 25_003, 50_001, 50_002, 50_003, 75_001, 75_002, 75_003].map(
        (i) => `${["onlyA", "onlyB", "differs"][(i % 25_000) - 1]} ${String(i).padStart(6, "0")}.bin`,
      ),
    );
    expect(left.calls.length).toBe(Math.ceil(a.length / 1000));
    expect(right.calls.length).toBe(Math.ceil(b.length / 1000));
    expect(report.pages).toEqual({ a: left.calls.length, b: right.calls.length });
    expect(left.calls.every((u) => u.searchParams.get("limit") === "1000" && u.searchParams.get("prefix") === "photos/")).toBe(true);
  });
});

describe("the merge", () => {
  it("asks both peers for their first page before either has answered (one page a side costs one listing's time)", async () => {
    const events: string[] = [];
    let bAsked = () => {};
    const asked = new Promise<void>((resolve) => {
      bAsked = resolve;
    });
    const files = [file("photos/1.bin"), file("photos/2.bin")];
    const a = listingPeer("a", files, async () => {
      events.push("a asked");
      // Held until B is asked; the timer only ends the wait where it never is.
      await Promise.race([asked, new Promise((resolve) => setTimeout(resolve, 1000))]);
      events.push("a answers");
    });
    const b = listingPeer("b", files, async () => {
      events.push("b asked");
      bAsked();
    });
    expect(await checkPeers(a.client, b.client, { prefix: "photos" })).toMatchObject({ identical: 2 });
    expect(events).toEqual(["a asked", "b asked", "a answers"]);
  });

  it("orders names as peers list them, by UTF-8 bytes (code points), not by UTF-16 units", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (x, y) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect(Math.sign(compareNames(x, y))).toBe(bytes);
      }),
      { numRuns: 2000 },
    );
    // An emoji (U+1F4F7) sorts after U+FF5E; JavaScript's < says the opposite.
    expect(compareNames("📷", "～")).toBeGreaterThan(0);
    expect("📷" < "～").toBe(true);
  });

  it("skips folder markers: a zero-byte `path/` is not a file on either side", async () => {
    const left = listingPeer("A", [file("docs/"), file("docs/a/", 0), file("docs/a/x"), file("docs/b")]);
    const right = listingPeer("B", [file("docs/a/x"), file("docs/b"), file("docs/c/", 0)]);
    const report = await checkPeers(left.client, right.client, { prefix: "docs" });
    expect([report.identical, report.differ, report.onlyOnA, report.onlyOnB]).toEqual([2, 0, 0, 0]);
  });

  it("compares by size alone when a side has no SHA-256, and says which files", async () => {
    const left = listingPeer("A", [file("p/same"), file("p/bigger", 10), { ...file("p/unknown"), sha256: null }]);
    const right = listingPeer("B", [{ ...file("p/same"), sha256: null }, { ...file("p/bigger", 11), sha256: null }, file("p/unknown")]);
    const report = await checkPeers(left.client, right.client, { prefix: "p/" });
    expect([report.identical, report.differ]).toEqual([2, 1]);
    expect(report.comparedBySize.map((f) => f.path)).toEqual(["same", "unknown"]);
    expect(report.differences.map((f) => [f.path, f.by])).toEqual([["bigger", "size"]]);
  });

  it("refuses a listing out of name order instead of reporting wrong differences", async () => {
    const files = [file("p/b"), file("p/a")];
    const unsorted: FetchLike = async () =>
      new Response(JSON.stringify({ files, cursor: null }), { headers: { "content-type": "application/json" } }) as Reply;
    const a = new PeerClient({ url: "http://a.test", name: "A", fetch: unsorted });
    const b = listingPeer("B", []);
    await expect(checkPeers(a, b.client, { prefix: "p" })).rejects.toThrow('A listed "p/a" after "p/b", out of name order.');
  });

  it("plans copies of what differs and, only with delete, deletes of what is only on B (into `as`)", async () => {
    const left = listingPeer("A", [file("x/1"), file("x/2", 5), file("x/3", 10, "3")]);
    const right = listingPeer("B", [file("y/2", 6), file("y/3", 10, "3"), file("y/4")]);
    const keep = await planSync(left.client, right.client, { prefix: "x", as: "y" });
    expect(keep.copies.map((c) => [c.from, c.to, c.reason])).toEqual([
      ["x/1", "y/1", "onlyA"],
      ["x/2", "y/2", "differs"],
    ]);
    expect([keep.deletes.length, keep.kept, keep.identical, keep.bytes]).toEqual([0, 1, 1, 15]);
    const mirror = await planSync(left.client, right.client, { prefix: "x", as: "y", delete: true });
    expect(mirror.deletes.map((d) => d.to)).toEqual(["y/4"]);
  });
});
