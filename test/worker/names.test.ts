import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, errorOf, peer2, putFile, sha256 } from "../support/http";

/**
 * The contract's file names (API.md "File names"): every name it allows works on every route
 * whatever its length up to 1024 bytes, names are one file whatever their Unicode spelling
 * (NFC), and the names it refuses are refused everywhere with nothing stored.
 */

const encodeName = (name: string) => name.split("/").map(encodeURIComponent).join("/");
const bytesOf = (s: string) => new TextEncoder().encode(s).byteLength;
const MiB = 1024 * 1024;

const uploadPath = (id: string, what: string, name: string) =>
  `/api/uploads/${encodeURIComponent(id)}${what}?name=${encodeURIComponent(name)}`;

/** A whole multipart upload of `body` (one part) to `name`; the answer of `complete`. */
async function multipart(name: string, body: Uint8Array, createName = name, partName = name): Promise<Response> {
  const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: createName }) });
  expect(created.status).toBe(201);
  const { uploadId } = (await created.json()) as { uploadId: string };
  const part = await call(uploadPath(uploadId, "/parts/1", partName), { method: "PUT", body });
  expect(part.status).toBe(200);
  const parts = [await part.json()];
  return call(uploadPath(uploadId, "/complete", name), { method: "POST", body: JSON.stringify({ parts, sha256: await sha256(body) }) });
}

// Names at the contract's bound, in 1-, 2-, 3- and 4-byte UTF-8 (and one in a folder).
const LONG_NAMES: [string, string][] = [
  ["1024 ASCII bytes in folders", `deep/${"d".repeat(200)}/${"x".repeat(1024 - 206)}`],
  ["1024 bytes of 2-byte characters", "é".repeat(512)],
  ["1023 bytes of 3-byte characters and one ASCII", `${"€".repeat(341)}a`],
  ["1024 bytes of 4-byte characters", "😀".repeat(256)],
];

describe("names up to 1024 bytes work on every route", () => {
  it.each(LONG_NAMES)("%s", async (_what, name) => {
    expect(bytesOf(name)).toBeGreaterThanOrEqual(1023);
    expect(bytesOf(name)).toBeLessThanOrEqual(1024);
    const body = new TextEncoder().encode(`bytes of ${name.length}`);
    const digest = await sha256(body);
    const path = `/api/files/${encodeName(name)}`;

    // PUT without a client SHA-256 (the peer hashes it) and with one.
    const put = await putFile(name, body);
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ name, sha256: digest });
    expect((await putFile(name, body, { "x-content-sha256": digest })).status).toBe(201);
    expect((await putFile(name, body)).status).toBe(201);

    const got = await call(path);
    expect(got.status).toBe(200);
    expect(got.headers.get("x-content-sha256")).toBe(digest);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(body);
    const head = await call(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("x-content-sha256")).toBe(digest);

    // The listing that holds it (and the whole peer's listing) answers.
    const listed = await call(`/api/files?prefix=${encodeURIComponent(name)}`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { files: unknown[] }).files).toEqual([expect.objectContaining({ name, sha256: digest })]);
    expect((await call("/api/files")).status).toBe(200);

    // A share link reads it without a token.
    const shared = await call(`${path}/share`, { method: "POST", body: "{}" });
    expect(shared.status).toBe(200);
    const link = ((await shared.json()) as { url: string }).url;
    const viaLink = await SELF.fetch(link);
    expect(viaLink.status).toBe(200);
    expect(new Uint8Array(await viaLink.arrayBuffer())).toEqual(body);

    // Pulled from another peer's link to the same name.
    expect((await peer2(path, { method: "PUT", body })).status).toBe(201);
    const theirs = await peer2(`${path}/share`, { method: "POST", body: "{}" });
    const theirLink = ((await theirs.json()) as { url: string }).url;
    const pulled = await call(`${path}/pull`, { method: "POST", body: JSON.stringify({ from: theirLink }) });
    expect(pulled.status).toBe(201);
    expect(await pulled.json()).toMatchObject({ name, sha256: digest });

    // Multipart: complete, then abort of another upload of the same name.
    const done = await multipart(name, body);
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({ name, size: body.byteLength, sha256: digest });
    expect((await call(path, { method: "HEAD" })).headers.get("x-content-sha256")).toBe(digest);
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name }) });
    const { uploadId } = (await created.json()) as { uploadId: string };
    expect((await call(uploadPath(uploadId, "", name), { method: "DELETE" })).status).toBe(204);

    expect((await call(path, { method: "DELETE" })).status).toBe(204);
    expect((await call(path)).status).toBe(404);
    expect(await env.FILES.head(name)).toBeNull();
    expect((await peer2(path, { method: "DELETE" })).status).toBe(204);
  });

  it.each(LONG_NAMES)("%s over WebDAV: PUT, GET, PROPFIND, PROPPATCH, MOVE and DELETE", async (_what, name) => {
    const path = `/dav/${encodeName(name)}`;
    expect((await call("/dav/deep/", { method: "MKCOL" })).status).toBeLessThan(500);
    expect((await call(`/dav/deep/${encodeName("d".repeat(200))}/`, { method: "MKCOL" })).status).toBeLessThan(500);
    const put = await call(path, { method: "PUT", body: "over dav" });
    expect(put.status).toBe(201);
    expect(await (await call(path)).text()).toBe("over dav");
    expect((await call(`/api/files/${encodeName(name)}`, { method: "HEAD" })).headers.get("x-content-sha256")).toBe(
      await sha256("over dav"),
    );
    const found = await call(path, { method: "PROPFIND", headers: { depth: "0" } });
    expect(found.status).toBe(207);
    const patched = await call(path, {
      method: "PROPPATCH",
      body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x"><D:set><D:prop><Z:tag>t</Z:tag></D:prop></D:set></D:propertyupdate>',
    });
    expect(patched.status).toBe(207);
    // Moved to a name as long or nearly (the last character changed), then deleted.
    const to = `${[...name].slice(0, -1).join("")}${name.endsWith("a") ? "b" : "a"}`;
    const moved = await call(path, { method: "MOVE", headers: { destination: `http://local.test/dav/${encodeName(to)}` } });
    expect(moved.status).toBe(201);
    expect((await call(`/dav/${encodeName(to)}`, { method: "DELETE" })).status).toBe(204);
    expect(await env.FILES.head(to)).toBeNull();
    // A folder of that name cannot exist: its marker would be 1025 bytes.
    const mkcol = await call(path, { method: "MKCOL" });
    if (bytesOf(name) === 1024) expect(mkcol.status).toBe(400);
    else expect(mkcol.status).toBe(201);
  });

  it.each(LONG_NAMES)("%s: copy and move, to and from, with the SHA-256 kept", async (_what, name) => {
    const body = new TextEncoder().encode(`copied ${name.length}`);
    const digest = await sha256(body);
    expect((await putFile(name, body)).status).toBe(201);
    const other = `${[...name].slice(0, -1).join("")}${name.endsWith("a") ? "b" : "a"}`;
    const copied = await call(`/api/files/${encodeName(name)}/copy`, { method: "POST", body: JSON.stringify({ to: other }) });
    expect(copied.status).toBe(201);
    expect(await copied.json()).toMatchObject({ name: other, sha256: digest });
    // Moved back over the original (which is replaced), leaving one file.
    const moved = await call(`/api/files/${encodeName(other)}/move`, {
      method: "POST",
      body: JSON.stringify({ to: name, overwrite: true }),
    });
    expect(moved.status).toBe(201);
    expect(await moved.json()).toMatchObject({ name, sha256: digest });
    expect(await env.FILES.head(other)).toBeNull();
    expect(new Uint8Array(await (await call(`/api/files/${encodeName(name)}`)).arrayBuffer())).toEqual(body);
    expect((await call(`/api/files/${encodeName(name)}`, { method: "DELETE" })).status).toBe(204);
  });

  it("takes a folder path up to 1023 bytes (its marker adds the '/') and refuses a longer one with 400", async () => {
    const path = `folders/${"f".repeat(1023 - 8)}`;
    const made = await call("/api/folders", { method: "POST", body: JSON.stringify({ path }) });
    expect(made.status).toBe(201);
    expect(await made.json()).toEqual({ path: `${path}/` });
    const tooLong = await call("/api/folders", { method: "POST", body: JSON.stringify({ path: `${path}g` }) });
    expect(tooLong.status).toBe(400);
    expect((await errorOf(tooLong)).code).toBe("bad_request");
    expect((await call(`/api/folders/${encodeName(path)}`, { method: "DELETE" })).status).toBe(204);
  });

  it("keeps a peer's listing whole when it holds a 1024-byte name stored without a SHA-256", async () => {
    const name = `list/${"n".repeat(1019)}`;
    expect((await putFile(name, "x")).status).toBe(201);
    expect((await putFile("list/short", "y")).status).toBe(201);
    const res = await call("/api/files?prefix=list/");
    expect(res.status).toBe(200);
    const files = ((await res.json()) as { files: { name: string; sha256: string }[] }).files;
    expect(files.map((f) => [f.name, f.sha256])).toEqual([
      [name, await sha256("x")],
      ["list/short", await sha256("y")],
    ]);
  });

  it("refuses a name of 1025 bytes on PUT and multipart with 400", async () => {
    const name = `${"é".repeat(512)}a`;
    expect(bytesOf(name)).toBe(1025);
    const put = await putFile(name, "x");
    expect(put.status).toBe(400);
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name }) });
    expect(created.status).toBe(400);
    expect((await errorOf(created)).code).toBe("bad_request");
  });

  it("refuses a listing prefix longer than any name with 400", async () => {
    const res = await call(`/api/files?prefix=${"p".repeat(1025)}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
  });
});

describe("names are normalised to NFC", () => {
  const nfc = "accents/café.txt".normalize("NFC");
  const nfd = "accents/café.txt".normalize("NFD");

  it("makes the NFC and NFD spellings one file on PUT, GET, HEAD, list and DELETE", async () => {
    expect(nfc).not.toBe(nfd);
    const put = await putFile(nfd, "typed on macOS");
    expect(put.status).toBe(201);
    expect(((await put.json()) as { name: string }).name).toBe(nfc);
    expect(await (await call(`/api/files/${encodeName(nfc)}`)).text()).toBe("typed on macOS");
    expect((await putFile(nfc, "typed on Linux")).status).toBe(201);
    expect(await (await call(`/api/files/${encodeName(nfd)}`)).text()).toBe("typed on Linux");
    expect((await call(`/api/files/${encodeName(nfd)}`, { method: "HEAD" })).status).toBe(200);
    const listed = (await (await call("/api/files?prefix=accents/")).json()) as { files: { name: string }[] };
    expect(listed.files.map((f) => f.name)).toEqual([nfc]);
    // A prefix is a name too: its NFD spelling lists the same file.
    const byNfd = (await (await call(`/api/files?prefix=${encodeURIComponent(nfd)}`)).json()) as { files: { name: string }[] };
    expect(byNfd.files.map((f) => f.name)).toEqual([nfc]);
    expect((await env.FILES.list({ prefix: "accents/" })).objects.map((o) => o.key)).toEqual([nfc]);
    expect((await call(`/api/files/${encodeName(nfd)}`, { method: "DELETE" })).status).toBe(204);
    expect(await env.FILES.head(nfc)).toBeNull();
  });

  it("makes them one file in multipart, share and pull", async () => {
    const body = new Uint8Array(MiB).fill(3);
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name: nfd }) });
    expect(((await created.json()) as { name: string }).name).toBe(nfc);
    // Created as NFD, parts sent as NFC, completed as NFD: one upload of one file.
    const done = await multipart(nfd, body, nfd, nfc);
    expect(done.status).toBe(201);
    expect(((await done.json()) as { name: string }).name).toBe(nfc);
    expect((await env.FILES.head(nfc))?.size).toBe(MiB);
    expect(await env.FILES.head(nfd)).toBeNull();

    const shared = await call(`/api/files/${encodeName(nfd)}/share`, { method: "POST", body: "{}" });
    const link = ((await shared.json()) as { url: string }).url;
    expect(link).toContain(encodeName(nfc));
    expect((await SELF.fetch(link)).status).toBe(200);
    // The same link with its path spelled in NFD (as a macOS tool may rewrite it) is the same file.
    const respelled = link.replace(encodeName(nfc), encodeName(nfd));
    expect(respelled).not.toBe(link);
    expect((await SELF.fetch(respelled)).status).toBe(200);

    // Pulled into the NFD spelling from a link to the NFD spelling on another peer: one NFC file.
    expect((await peer2(`/api/files/${encodeName(nfd)}`, { method: "PUT", body: "theirs" })).status).toBe(201);
    const theirs = await peer2(`/api/files/${encodeName(nfd)}/share`, { method: "POST", body: "{}" });
    const theirLink = ((await theirs.json()) as { url: string }).url;
    const pulled = await call(`/api/files/${encodeName(nfd)}/pull`, { method: "POST", body: JSON.stringify({ from: theirLink }) });
    expect(pulled.status).toBe(201);
    expect(((await pulled.json()) as { name: string }).name).toBe(nfc);
    expect(await (await call(`/api/files/${encodeName(nfc)}`)).text()).toBe("theirs");
    expect((await env.FILES.list({ prefix: "accents/" })).objects.map((o) => o.key)).toEqual([nfc]);
    expect((await peer2(`/api/files/${encodeName(nfc)}`, { method: "DELETE" })).status).toBe(204);
  });

  it("makes them one file in copy and move", async () => {
    await call(`/api/files/${encodeName(nfc)}`, { method: "DELETE" });
    expect((await putFile("accents/src.txt", "copied")).status).toBe(201);
    const copied = await call("/api/files/accents/src.txt/copy", { method: "POST", body: JSON.stringify({ to: nfd }) });
    expect(copied.status).toBe(201);
    expect(((await copied.json()) as { name: string }).name).toBe(nfc);
    const moved = await call(`/api/files/${encodeName(nfd)}/move`, { method: "POST", body: JSON.stringify({ to: "accents/dst.txt" }) });
    expect(moved.status).toBe(201);
    expect(await env.FILES.head(nfc)).toBeNull();
    expect((await env.FILES.list({ prefix: "accents/" })).objects.map((o) => o.key)).toEqual(["accents/dst.txt", "accents/src.txt"]);
    for (const name of ["accents/dst.txt", "accents/src.txt"]) await call(`/api/files/${name}`, { method: "DELETE" });
  });

  it("measures a name's length after normalising it", async () => {
    // 1200 bytes as NFD (e + combining acute), 800 as NFC: an allowed name.
    const name = "e\u0301".repeat(400);
    expect(bytesOf(name)).toBe(1200);
    const res = await putFile(name, "x");
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe("é".repeat(400));
  });
});

describe("names the contract refuses", () => {
  it.each([
    ["an empty segment", "a%2F%2Fb"],
    ["an empty last segment", "dir%2F"],
    ["a trailing slash", "dir/"],
    ["U+202A left-to-right embedding", "a%E2%80%AAb"],
    ["U+202E right-to-left override", "invoice%E2%80%AEfdp.exe"],
    ["U+2066 left-to-right isolate", "a%E2%81%A6b"],
    ["U+2069 pop directional isolate", "a%E2%81%A9b"],
  ])("refuses %s with 400 on PUT and multipart, and stores nothing", async (_why, raw) => {
    const name = decodeURIComponent(raw);
    const res = await call(`/api/files/${raw}`, { method: "PUT", body: "x" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    const created = await call("/api/uploads", { method: "POST", body: JSON.stringify({ name }) });
    expect(created.status).toBe(400);
    expect((await env.FILES.list()).objects.map((o) => o.key)).not.toContain(name);
  });
});
