import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUi, launchChromium, openFolder, openSection, openTab, screenshot, signIn } from "../support/browser";
import { type TestNetwork, makeTemp, removeTemp, startNetwork } from "../support/network";
import { readZip } from "../support/zip";

/**
 * The Files view as a file manager, in a real Chromium against a real local network of two
 * peers: folders from the one-level listing, breadcrumbs, new folder, folder upload, sort,
 * paging through 10,000 files, selection (delete, move, zip, send), rename, search and
 * previews — each checked through the page and, independently, through the API.
 */
let network: TestNetwork;
let browser: Browser;
let temp: string;
const tabErrors: string[][] = [];

/** Files in the big-folder test (see there). */
const BIG_FOLDER = Number(process.env.UI_BIG_FOLDER ?? 2100);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const peer = (i: number) => {
  const p = network.peers[i];
  if (!p) throw new Error(`no peer ${i}`);
  return p;
};
const api = (i: number) => network.client(peer(i).name);

async function names(i: number, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const f of api(i).allFiles(prefix)) out.push(f.name);
  return out.sort();
}

/** A tab signed in to peer `i`, on the Files tab, optionally in folder `folder`. */
async function filesTab(options: { folder?: string; width?: number; peer?: number } = {}): Promise<Page> {
  const tab = await openTab(browser, { width: options.width ?? 1280 });
  tabErrors.push(tab.errors);
  const page = tab.page;
  await signIn(page, peer(options.peer ?? 0).url, peer(options.peer ?? 0).token);
  await openSection(page, "Files");
  if (options.folder) await openFolder(page, options.folder);
  return page;
}

/** The names the table shows, in order (files by full name, folders by path). */
const rowNames = (page: Page) =>
  page
    .locator("tbody[data-testid=file-rows] tr")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-file") ?? r.getAttribute("data-path") ?? ""));

/** Puts many small files, a few at a time. */
async function putMany(files: { name: string; body: string }[], concurrency = 24): Promise<void> {
  const queue = [...files];
  const client = api(0);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) await client.putFile(f.name, f.body);
    }),
  );
}

beforeAll(async () => {
  buildUi();
  network = await startNetwork({ peers: 2 });
  browser = await launchChromium();
  temp = await makeTemp("ui-files");
});

afterAll(async () => {
  await browser?.close();
  await network?.stop();
  if (network) await removeTemp(network.dir);
  if (temp) await removeTemp(temp);
});

describe("Files view: folders", () => {
  it("lists one level from the peer's delimited listing, with empty folders, and walks it by breadcrumbs", async () => {
    await api(0).putFile("nav/a.txt", "a");
    await api(0).putFile("nav/sub/deep/b.txt", "b");
    await api(0).createFolder("nav/empty");
    const page = await filesTab();
    const listings: URL[] = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname === "/api/files") listings.push(url);
    });
    await openFolder(page, "nav");
    expect(await rowNames(page)).toEqual(["nav/empty/", "nav/sub/", "nav/a.txt"]);
    // The view asked for this level only, never for the files below it.
    expect(listings.map((u) => [u.searchParams.get("prefix"), u.searchParams.get("delimiter")])).toEqual([["nav/", "/"]]);

    await page.getByRole("button", { name: "sub/", exact: true }).click();
    await page.getByRole("button", { name: "deep/", exact: true }).click();
    await page.locator('tr[data-file="nav/sub/deep/b.txt"]').waitFor();
    const crumbs = page.getByRole("navigation", { name: "Folder" });
    expect(await crumbs.textContent()).toBe("All files/nav/sub/deep");
    await screenshot(page, "files-folder-deep");
    await crumbs.getByRole("button", { name: "nav", exact: true }).click();
    await page.locator('tr[data-path="nav/empty/"]').waitFor();
    await page.getByRole("button", { name: "empty/", exact: true }).click();
    await page.getByText("No files in this folder.").waitFor();
    await page.context().close();
  });

  it("makes a new folder in the folder shown, by keyboard", async () => {
    const page = await filesTab({ folder: "made" });
    await page.getByRole("button", { name: "New folder", exact: true }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Folder name").fill("inner");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "detached" });
    await page.locator('tr[data-path="made/inner/"]').waitFor();
    expect((await api(0).listFiles({ prefix: "made/", delimiter: "/" })).folders).toEqual(["made/inner/"]);
    await page.context().close();
  });

  it("uploads a chosen folder into the folder shown, each file at its relative path", async () => {
    const dir = join(temp, "album");
    await mkdir(join(dir, "2025"), { recursive: true });
    const one = randomBytes(2048);
    const two = randomBytes(4096);
    await writeFile(join(dir, "cover.bin"), one);
    await writeFile(join(dir, "2025", "trip.bin"), two);
    const page = await filesTab({ folder: "uploads" });
    await page.getByTestId("folder-picker").setInputFiles(dir);
    await page.locator('[data-upload="uploads/album/2025/trip.bin"][data-state="done"]').waitFor();
    await page.locator('[data-upload="uploads/album/cover.bin"][data-state="done"]').waitFor();
    await page.locator('tr[data-path="uploads/album/"]').waitFor();
    expect((await api(0).headFile("uploads/album/cover.bin"))?.sha256).toBe(sha256(one));
    expect((await api(0).headFile("uploads/album/2025/trip.bin"))?.sha256).toBe(sha256(two));
    await page.context().close();
  });

  it("uploads dropped files into the folder shown", async () => {
    const page = await filesTab({ folder: "dropped" });
    const dataTransfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["one"], "one.txt", { type: "text/plain" }));
      return dt;
    });
    await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer });
    await page.locator('tr[data-file="dropped/one.txt"]').waitFor();
    expect(await api(0).getFileBytes("dropped/one.txt")).toEqual(new TextEncoder().encode("one"));
    await page.context().close();
  });

  it("uploads a dropped folder, walking into it so each file keeps its relative path", async () => {
    const dir = join(temp, "dropped-album");
    await mkdir(join(dir, "inner", "deeper"), { recursive: true });
    const files = { "top.txt": "top", "inner/mid.txt": "middle", "inner/deeper/low.txt": "low" };
    for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
    const page = await filesTab({ folder: "dropfolder" });
    // A real drag of a folder from the desktop, through Chromium's drag pipeline (CDP), so the
    // drop carries directory entries as an OS drag does.
    const box = await page.getByTestId("dropzone").boundingBox();
    if (!box) throw new Error("no drop zone");
    const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    const cdp = await page.context().newCDPSession(page);
    const data = { items: [], files: [dir], dragOperationsMask: 1 };
    for (const type of ["dragEnter", "dragOver", "drop"] as const) await cdp.send("Input.dispatchDragEvent", { type, ...at, data });
    for (const name of Object.keys(files))
      await page.locator(`[data-upload="dropfolder/dropped-album/${name}"][data-state="done"]`).waitFor();
    expect(await names(0, "dropfolder/")).toEqual(
      Object.keys(files)
        .map((n) => `dropfolder/dropped-album/${n}`)
        .sort(),
    );
    expect(new TextDecoder().decode(await api(0).getFileBytes("dropfolder/dropped-album/inner/deeper/low.txt"))).toBe("low");
    await page.context().close();
  });

  it("sorts by name, size and date", async () => {
    await api(0).putFile("sorted/b-medium.txt", "x".repeat(500));
    await api(0).putFile("sorted/a-large.txt", "x".repeat(5000));
    await api(0).putFile("sorted/c-small.txt", "x");
    await api(0).createFolder("sorted/folder");
    const page = await filesTab({ folder: "sorted" });
    const sortBy = page.getByLabel("Sort", { exact: true });
    expect(await rowNames(page)).toEqual(["sorted/folder/", "sorted/a-large.txt", "sorted/b-medium.txt", "sorted/c-small.txt"]);
    await sortBy.selectOption({ label: "Name, Z to A" });
    await expect.poll(() => rowNames(page)).toEqual(["sorted/folder/", "sorted/c-small.txt", "sorted/b-medium.txt", "sorted/a-large.txt"]);
    await sortBy.selectOption({ label: "Largest first" });
    await expect.poll(() => rowNames(page)).toEqual(["sorted/folder/", "sorted/a-large.txt", "sorted/b-medium.txt", "sorted/c-small.txt"]);
    await sortBy.selectOption({ label: "Smallest first" });
    await expect.poll(() => rowNames(page)).toEqual(["sorted/folder/", "sorted/c-small.txt", "sorted/b-medium.txt", "sorted/a-large.txt"]);
    await sortBy.selectOption({ label: "Newest first" });
    await expect.poll(() => rowNames(page)).toEqual(["sorted/folder/", "sorted/c-small.txt", "sorted/a-large.txt", "sorted/b-medium.txt"]);
    await sortBy.selectOption({ label: "Oldest first" });
    await expect.poll(() => rowNames(page)).toEqual(["sorted/folder/", "sorted/b-medium.txt", "sorted/a-large.txt", "sorted/c-small.txt"]);
    await page.context().close();
  });
});

describe("Files view: acting on files and folders", () => {
  it("renames a file and moves a folder in place", async () => {
    await api(0).putFile("ren/old.txt", "renamed");
    await api(0).putFile("ren/dir/x.txt", "x");
    const page = await filesTab({ folder: "ren" });
    await page.getByRole("button", { name: "Rename or move ren/old.txt" }).click();
    let dialog = page.getByRole("dialog");
    await dialog.getByLabel("New name (with its folders)").fill("ren/new.txt");
    await dialog.getByRole("button", { name: "Move", exact: true }).click();
    await page.locator('tr[data-file="ren/new.txt"]').waitFor();
    expect(await api(0).headFile("ren/old.txt")).toBeNull();
    expect(new TextDecoder().decode(await api(0).getFileBytes("ren/new.txt"))).toBe("renamed");

    await page.getByRole("button", { name: "Rename or move ren/dir/" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByLabel("New name (with its folders)").fill("ren/moved/dir");
    await dialog.getByRole("button", { name: "Move folder" }).click();
    await page.locator('tr[data-path="ren/moved/"]').waitFor();
    expect(await names(0, "ren/")).toEqual(["ren/moved/dir/x.txt", "ren/new.txt"]);

    // A clash is the peer's 412, shown in the dialog, and nothing moves.
    await api(0).putFile("ren/other.txt", "other");
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("button", { name: "Rename or move ren/other.txt" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByLabel("New name (with its folders)").fill("ren/new.txt");
    await dialog.getByRole("button", { name: "Move", exact: true }).click();
    await expect.poll(() => page.getByTestId("dialog-error").textContent()).toContain("precondition_failed");
    expect(new TextDecoder().decode(await api(0).getFileBytes("ren/new.txt"))).toBe("renamed");
    await page.context().close();
  });

  it("deletes a folder after a confirmation that says how many files go", async () => {
    await putMany(Array.from({ length: 7 }, (_, i) => ({ name: `delf/box/${i}.txt`, body: "12345" })));
    const page = await filesTab({ folder: "delf" });
    await page.getByRole("button", { name: "Delete folder delf/box/" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain("7 files (35 B) will be deleted");
    await screenshot(page, "files-delete-folder");
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByText("No files in this folder.").waitFor();
    expect(await names(0, "delf/")).toEqual([]);
    await page.context().close();
  });

  it("selects several files and folders and deletes, moves and sends them", async () => {
    await putMany([
      { name: "sel/one.txt", body: "one" },
      { name: "sel/two.txt", body: "two" },
      { name: "sel/three.txt", body: "three" },
      { name: "sel/dir/inner.txt", body: "inner" },
      { name: "sel/keep.txt", body: "keep" },
    ]);
    const page = await filesTab({ folder: "sel" });
    await page.getByLabel("Select sel/one.txt").check();
    await page.getByLabel("Select sel/dir/").check();
    expect(await page.getByTestId("selected-count").textContent()).toBe("2 selected");
    await screenshot(page, "files-selection");

    // Send: the destination pulls each file, keeping its path relative to the folder shown.
    await page.getByRole("button", { name: "Send selected to a peer" }).click();
    let dialog = page.getByRole("dialog");
    await dialog.getByLabel("Destination peer").selectOption(peer(1).name);
    await dialog.getByLabel("Destination's token").fill(peer(1).token);
    await dialog.getByLabel("Folder there").fill("got");
    await dialog.getByRole("button", { name: "Send" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await names(1, "got/")).toEqual(["got/dir/inner.txt", "got/one.txt"]);
    expect(new TextDecoder().decode(await api(1).getFileBytes("got/dir/inner.txt"))).toBe("inner");

    // Move to another folder.
    await page.getByRole("button", { name: "Move selected to…" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByLabel("Destination folder").fill("sel/archive");
    await dialog.getByRole("button", { name: "Move", exact: true }).click();
    await page.locator('tr[data-path="sel/archive/"]').waitFor();
    expect(await names(0, "sel/")).toEqual([
      "sel/archive/dir/inner.txt",
      "sel/archive/one.txt",
      "sel/keep.txt",
      "sel/three.txt",
      "sel/two.txt",
    ]);

    // Delete: the confirmation counts every file.
    await page.getByLabel("Select sel/two.txt").check();
    await page.getByLabel("Select sel/three.txt").check();
    await page.getByLabel("Select sel/archive/").check();
    await page.getByRole("button", { name: "Delete selected" }).click();
    dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain("4 files (16 B) will be deleted");
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.locator('tr[data-file="sel/two.txt"]').waitFor({ state: "detached" });
    expect(await names(0, "sel/")).toEqual(["sel/keep.txt"]);
    await page.context().close();
  });
});

/** Clicks `button`, saves the download and reads it as a zip: entry name → bytes. */
async function downloadedZip(
  page: Page,
  click: () => Promise<void>,
  sizes: Record<string, number>,
): Promise<{ filename: string; entries: Map<string, string> }> {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), click()]);
  const bytes = await readFile(await download.path());
  const zip = await readZip(new Blob([bytes]).stream(), { sizes: new Map(Object.entries(sizes)), keep: () => true });
  return {
    filename: download.suggestedFilename(),
    entries: new Map(zip.entries.map((e) => [e.name, new TextDecoder().decode(e.data)])),
  };
}

describe("Files view: zips", () => {
  it("downloads a folder, and a selection of files and folders, as zips", async () => {
    await putMany([
      { name: "zips/docs/a.txt", body: "alpha" },
      { name: "zips/docs/sub/b.txt", body: "bravo!" },
      { name: "zips/c.txt", body: "charlie" },
      { name: "zips/skip.txt", body: "not chosen" },
    ]);
    const page = await filesTab({ folder: "zips" });
    const folder = await downloadedZip(page, () => page.getByRole("button", { name: "Download zips/docs/ as a zip" }).click(), {
      "a.txt": 5,
      "sub/b.txt": 6,
    });
    expect(folder.filename).toBe("docs.zip");
    expect(folder.entries).toEqual(
      new Map([
        ["a.txt", "alpha"],
        ["sub/b.txt", "bravo!"],
      ]),
    );

    await page.getByLabel("Select zips/docs/").check();
    await page.getByLabel("Select zips/c.txt").check();
    const chosen = await downloadedZip(page, () => page.getByRole("button", { name: "Download selected as zip" }).click(), {
      "docs/a.txt": 5,
      "docs/sub/b.txt": 6,
      "c.txt": 7,
    });
    expect(chosen.entries).toEqual(
      new Map([
        ["c.txt", "charlie"],
        ["docs/a.txt", "alpha"],
        ["docs/sub/b.txt", "bravo!"],
      ]),
    );
    await page.context().close();
  });
});

describe("Files view: search", () => {
  it("finds names over the whole peer or the folder, and opens a result's folder", async () => {
    await putMany([
      { name: "search/a/Report-2025.txt", body: "1" },
      { name: "search/b/old-report.txt", body: "2" },
      { name: "elsewhere/report.md", body: "3" },
      { name: "search/unrelated.txt", body: "4" },
    ]);
    const page = await filesTab({ folder: "search" });
    await page.getByLabel("Search names").fill("REPORT");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect
      .poll(() => rowNames(page), { timeout: 30_000 })
      .toEqual(["elsewhere/report.md", "search/a/Report-2025.txt", "search/b/old-report.txt"]);
    await screenshot(page, "files-search");

    await page.getByLabel("Search where").selectOption({ label: "this folder" });
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => rowNames(page), { timeout: 30_000 }).toEqual(["search/a/Report-2025.txt", "search/b/old-report.txt"]);

    await page.getByRole("button", { name: "Open the folder of search/b/old-report.txt" }).click();
    await page.locator(".target-folder", { hasText: "/search/b/" }).waitFor();
    await expect.poll(() => rowNames(page)).toEqual(["search/b/old-report.txt"]);
    await page.context().close();
  });
});

/** A PCM WAV of `seconds` of a tone: a seekable audio file built without any tool. */
function wav(seconds: number, rate = 8000): Buffer {
  const samples = seconds * rate;
  const out = Buffer.alloc(44 + samples * 2);
  out.write("RIFF", 0);
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write("WAVEfmt ", 8);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write("data", 36);
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(8000 * Math.sin((i * 2 * Math.PI * 440) / rate)), 44 + i * 2);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG of `width`×1 red pixels, built without any tool. */
function png(width: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(1, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [255, 0, 0]).flat())]);
  return Buffer.concat([
    Buffer.from("89504e470d0a1a0a", "hex"),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(row)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("Files view: previews", () => {
  it("previews text and Markdown as text: markup in a file never becomes the page's", async () => {
    const hostile = '# Title\n\n<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>\n';
    await api(0).putFile("pre/readme.md", hostile, { contentType: "text/markdown" });
    await api(0).putFile("pre/page.html", hostile, { contentType: "text/html" });
    const page = await filesTab({ folder: "pre" });
    for (const name of ["pre/readme.md", "pre/page.html"]) {
      await page.getByRole("button", { name: `Preview ${name}` }).click();
      const dialog = page.getByRole("dialog");
      const text = dialog.getByLabel(`Text of ${name}`);
      await text.waitFor();
      expect(await text.textContent()).toBe(hostile);
      expect(await text.locator("*").count()).toBe(0);
      await screenshot(page, `preview-${name.split(".").pop()}`);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
    }
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await page.context().close();
  });

  it("previews the first 256 KiB of a large text file, with one range request", async () => {
    const big = "0123456789abcdef\n".repeat(40_000);
    await api(0).putFile("pre/big.log", big, { contentType: "text/plain" });
    const page = await filesTab({ folder: "pre" });
    const ranges: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/files/pre/big.log") ranges.push(r.headers().range ?? "none");
    });
    await page.getByRole("button", { name: "Preview pre/big.log" }).click();
    const text = page.getByRole("dialog").getByLabel("Text of pre/big.log");
    await text.waitFor();
    expect((await text.textContent())?.length).toBe(256 * 1024);
    expect(ranges).toEqual([`bytes=0-${256 * 1024 - 1}`]);
    await page.context().close();
  });

  it("previews an image, a PDF and seekable audio through signed links on the page's origin", async () => {
    await api(0).putFile("pre/dot.png", png(2), { contentType: "image/png" });
    const pdf = Buffer.from(
      "%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    );
    await api(0).putFile("pre/doc.pdf", pdf, { contentType: "application/pdf" });
    await api(0).putFile("pre/tone.wav", wav(6), { contentType: "audio/wav" });
    const page = await filesTab({ folder: "pre" });

    await page.getByRole("button", { name: "Preview pre/dot.png" }).click();
    const img = page.getByRole("dialog").getByRole("img", { name: "Preview of pre/dot.png" });
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(2);
    await screenshot(page, "preview-image");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

    await page.getByRole("button", { name: "Preview pre/doc.pdf" }).click();
    const frame = page.getByRole("dialog").locator("iframe");
    const src = (await frame.getAttribute("src")) ?? "";
    expect(new URL(src).origin).toBe(new URL(peer(0).url).origin);
    // What the frame loads is the file under the peer's sandboxing CSP.
    const served = await fetch(src);
    expect(served.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(served.headers.get("content-type")).toBe("application/pdf");
    await expect.poll(() => page.frames().some((f) => f.url() === src)).toBe(true);
    await screenshot(page, "preview-pdf");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

    const ranges: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/files/pre/tone.wav") ranges.push(r.headers().range ?? "none");
    });
    await page.getByRole("button", { name: "Preview pre/tone.wav" }).click();
    const audio = page.getByRole("dialog").locator("audio");
    await expect.poll(() => audio.evaluate((a: HTMLAudioElement) => a.readyState >= 1 && Math.round(a.duration))).toBe(6);
    await audio.evaluate(
      (a: HTMLAudioElement) =>
        new Promise<void>((resolve) => {
          a.addEventListener("seeked", () => resolve(), { once: true });
          a.currentTime = 5;
        }),
    );
    expect(await audio.evaluate((a: HTMLAudioElement) => Math.floor(a.currentTime))).toBe(5);
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.every((r) => r.startsWith("bytes="))).toBe(true);
    await screenshot(page, "preview-audio");
    await page.context().close();
  });

  it("never runs an uploaded file's script, even one stored as a PDF", async () => {
    const html = Buffer.from("<script>parent.pwned = 1; top.pwned = 1</script><p>not a pdf</p>");
    await api(0).putFile("pre/trap.pdf", html, { contentType: "application/pdf" });
    await api(0).putFile("pre/trap.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>top.pwned=3</script></svg>', {
      contentType: "image/svg+xml",
    });
    const page = await filesTab({ folder: "pre" });
    for (const name of ["pre/trap.pdf", "pre/trap.svg"]) {
      await page.getByRole("button", { name: `Preview ${name}` }).click();
      await page.getByRole("dialog").locator(".preview").waitFor();
      await page.waitForLoadState("networkidle");
      await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    }
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await page.context().close();
  });
});

describe("Files view: phone width", () => {
  it("fits 390 px with a selection and search results", async () => {
    await putMany([
      { name: "phone/a-rather-long-file-name-that-has-to-wrap-somewhere.txt", body: "a" },
      { name: "phone/sub/b.txt", body: "b" },
    ]);
    const page = await filesTab({ folder: "phone", width: 390 });
    await page.getByLabel("Select phone/sub/").check();
    await page.waitForLoadState("networkidle");
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "phone-files-selection");
    await page.getByLabel("Search names").fill("b.txt");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.locator('tr[data-file="phone/sub/b.txt"]').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "phone-files-search");
    await page.context().close();
    expect(tabErrors.flat()).toEqual([]);
  });
});

describe("Files view: a big folder", () => {
  it("shows 100 rows at a time, asks the peer for listing pages only as rows need them, and pages by keyboard (2,100 files)", async () => {
    // Several listing pages exercise every path a folder of 10,000 takes (the code has no other
    // limit); seeding 10,000 through the API takes ~8 minutes on a loaded 2-core machine.
    const files = Array.from({ length: BIG_FOLDER }, (_, i) => ({ name: `many/f-${String(i).padStart(5, "0")}.txt`, body: String(i) }));
    const started = Date.now();
    await putMany(files);
    console.log(`put ${BIG_FOLDER} files in ${Date.now() - started} ms`);
    await api(0).putFile("many/zz-largest.txt", "x".repeat(10_000));
    const page = await filesTab();
    // How many names each listing request of the folder brought (a page may hold fewer than
    // the limit asked: R2 trims pages that carry metadata).
    const pages: number[] = [];
    const seen: string[] = [];
    page.on("response", async (r) => {
      const url = new URL(r.url());
      if (url.pathname !== "/api/files" || url.searchParams.get("prefix") !== "many/") return;
      const body = (await r.json()) as { files: unknown[]; folders?: unknown[] };
      pages.push(body.files.length + (body.folders?.length ?? 0));
      seen.push(url.searchParams.get("cursor") ?? "");
    });
    const fetched = () => pages.reduce((a, b) => a + b, 0);
    /** The view asked for listing pages until it had `rows` names, and not one more. */
    const stoppedAt = async (rows: number) => {
      // The test reads each answer after the page does: wait for its own count to catch up.
      await expect.poll(fetched).toBeGreaterThanOrEqual(rows);
      expect(fetched() - (pages.at(-1) ?? 0)).toBeLessThan(rows);
    };
    await openFolder(page, "many");
    await expect.poll(() => page.locator("tbody[data-testid=file-rows] tr").count(), { timeout: 60_000 }).toBe(100);
    await stoppedAt(101);
    expect(fetched()).toBeLessThan(BIG_FOLDER);
    expect(await page.getByTestId("page-info").textContent()).toBe(`Rows 1–100 of ${fetched()}+`);

    const next = page.getByRole("button", { name: "Next page" });
    await next.focus();
    for (let i = 0; i < 10; i++) await page.keyboard.press("Enter");
    await expect.poll(() => page.getByTestId("page-info").textContent(), { timeout: 60_000 }).toMatch(/^Rows 1001–1100 of \d+\+$/);
    expect((await rowNames(page))[0]).toBe("many/f-01000.txt");
    // Page 11 needed more names, and the view fetched only as many pages as it took.
    await stoppedAt(1101);
    expect(await page.getByTestId("page-info").textContent()).toBe(`Rows 1001–1100 of ${fetched()}+`);
    // Never the same page twice, however fast the presses came.
    expect(new Set(seen).size).toBe(seen.length);
    await screenshot(page, "files-big-folder");

    // Largest first needs the whole level: the largest file, last by name, comes first.
    await page.getByLabel("Sort", { exact: true }).selectOption({ label: "Largest first" });
    await expect.poll(() => page.getByTestId("page-info").textContent(), { timeout: 60_000 }).toBe(`Rows 1–100 of ${BIG_FOLDER + 1}`);
    expect((await rowNames(page))[0]).toBe("many/zz-largest.txt");
    await page.context().close();
  }, 400_000);
});
