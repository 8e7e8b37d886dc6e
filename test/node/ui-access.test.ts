import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerClient, PeerError } from "../../src/client";
import { buildUi, launchChromium, openSection, openTab, screenshot, signIn } from "../support/browser";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

/** The Access view and a scoped sign-in in a real Chromium, against a real local peer; checked through the API too. */

let network: TestNetwork;
let browser: Browser;
const errors: string[][] = [];

const peer = () => network.peers[0]!;
const api = () => network.client(peer().name);

async function tab(): Promise<Page> {
  const opened = await openTab(browser);
  errors.push(opened.errors);
  return opened.page;
}

async function signedIn(token: string): Promise<Page> {
  const page = await tab();
  await signIn(page, peer().url, token);
  return page;
}

beforeAll(async () => {
  buildUi();
  network = await startNetwork({ peers: 1 });
  browser = await launchChromium();
  await api().putFile("photos/one.txt", "one photo");
  await api().putFile("private/two.txt", "private");
});

afterAll(async () => {
  await browser?.close();
  await network?.stop();
  await removeTemp(network?.dir ?? "");
});

describe("the Access view", () => {
  it("mints a token shown once with a copy button, lists it, and revokes it", async () => {
    const page = await signedIn(peer().token);
    await openSection(page, "Access");
    await page.getByLabel("write").check();
    await page.getByLabel("Only names under").fill("photos/");
    await page.getByLabel("Label").fill("friend");
    await page.getByRole("button", { name: "Mint token" }).click();
    const shown = page.getByTestId("new-token");
    await shown.waitFor();
    const token = await shown.inputValue();
    expect(token).toMatch(/^ept1_/);
    await page.getByTestId("minted").getByRole("button", { name: "Copy" }).waitFor();

    const scoped = new PeerClient({ url: peer().url, token, name: peer().name });
    expect(await scoped.getFileBytes("photos/one.txt")).toEqual(new TextEncoder().encode("one photo"));
    const listed = (await api().listTokens()).find((t) => t.label === "friend");
    expect(listed).toMatchObject({ ops: ["read", "write"], prefix: "photos/" });

    const row = page.locator(`tr[data-token="${listed!.id}"]`);
    await row.waitFor();
    expect(await page.getByTestId("token-rows").textContent()).not.toContain(token);
    await row.getByRole("button", { name: "Revoke token friend" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke", exact: true }).click();
    await row.waitFor({ state: "detached" });
    const refused = await scoped.getFileBytes("photos/one.txt").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(PeerError);
    expect((refused as PeerError).status).toBe(401);
  });

  it("lists share links and revokes one: the link is gone", async () => {
    const link = await api().shareFile("photos/one.txt", { maxDownloads: 5 });
    const page = await signedIn(peer().token);
    await page.goto(`${peer().url}/#access`);
    const row = page.locator(`tr[data-share="${link.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("0 of 5");
    await row.getByRole("button", { name: "Revoke link to photos/one.txt" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke", exact: true }).click();
    await row.waitFor({ state: "detached" });
    expect((await fetch(link.url)).status).toBe(410);
  });
});

describe("the Access view by keyboard, at phone width", () => {
  it("mints a token with a lifetime in hours by keyboard alone at 390 px, and never shows it again", async () => {
    const tab = await openTab(browser, { width: 390 });
    errors.push(tab.errors);
    const page = tab.page;
    await signIn(page, peer().url, peer().token);
    await page.goto(`${peer().url}/#access`);
    await page.getByRole("heading", { level: 1, name: "Access" }).waitFor();
    await page.getByLabel("read").focus();
    await page.keyboard.press("Tab"); // write
    await page.keyboard.press("Space");
    await page.getByLabel("Only names under").focus();
    await page.keyboard.type("drop/");
    await page.keyboard.press("Tab");
    await page.keyboard.type("2");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Home"); // minutes
    await page.keyboard.press("ArrowDown"); // hours
    await page.keyboard.press("Tab");
    await page.keyboard.type("phone");
    const before = Date.now();
    await page.keyboard.press("Enter");
    const shown = page.getByTestId("new-token");
    await shown.waitFor();
    const token = await shown.inputValue();
    const listed = (await api().listTokens()).find((t) => t.label === "phone");
    expect(listed).toMatchObject({ ops: ["read", "write"], prefix: "drop/" });
    const expires = Date.parse(listed?.expires ?? "");
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 7200_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7200_000 + 1000);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, "Access scrolls sideways").toBeLessThanOrEqual(0);
    await screenshot(page, "phone-access");

    // Shown once: back on the tab later, the page holds it nowhere.
    await page.goto(`${peer().url}/#files`);
    await page.getByRole("heading", { level: 1, name: "Files" }).waitFor();
    await page.goto(`${peer().url}/#access`);
    await page.locator(`tr[data-token="${listed?.id}"]`).waitFor();
    expect(
      await page.evaluate(
        (t) => document.documentElement.outerHTML.includes(t) || [...document.querySelectorAll("input")].some((i) => i.value === t),
        token,
      ),
    ).toBe(false);
    await screenshot(page, "phone-access-listed");
    await api().revokeToken(listed?.id ?? "");
    await tab.context.close();
  });
});

describe("signing in with a scoped token", () => {
  it("accepts it and shows only the sections it can use, starting in its folder", async () => {
    const minted = await api().createToken({ ops: ["read"], prefix: "photos/", label: "viewer" });
    const page = await signedIn(minted.token);
    const sections = page.getByRole("navigation", { name: "Sections" }).getByRole("link");
    expect(await sections.allTextContents()).toEqual(["Files"]);
    await page.getByRole("heading", { level: 1, name: "Files" }).waitFor();
    await page.getByText("one.txt", { exact: true }).waitFor();
    expect(await page.locator("main").textContent()).not.toContain("two.txt");
  });

  it("offers a read-only token no upload, new folder, rename or delete; a token that may write and delete gets them", async () => {
    const viewer = await api().createToken({ ops: ["read"], prefix: "photos/", label: "read only" });
    const page = await signedIn(viewer.token);
    const row = page.locator('tr[data-file="photos/one.txt"]');
    await row.waitFor();
    await row.getByRole("button", { name: "Download photos/one.txt" }).waitFor();
    expect(await row.getByRole("button", { name: "Share link for photos/one.txt" }).isVisible()).toBe(true);
    expect(await row.getByRole("button", { name: "Delete photos/one.txt" }).isVisible()).toBe(false);
    expect(await row.getByRole("button", { name: "Rename or move photos/one.txt" }).isVisible()).toBe(false);
    expect(await page.getByRole("heading", { name: "Upload" }).isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "New folder" }).isVisible()).toBe(false);
    // Hidden is out of the keyboard's way too: Tab never lands on a Delete button.
    const focused = new Set<string>();
    await row.getByRole("button", { name: "Download photos/one.txt" }).focus();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      focused.add(
        await page.evaluate(() => {
          const el = document.activeElement;
          return !el || el === document.body ? "" : (el.getAttribute("aria-label") ?? el.textContent ?? "");
        }),
      );
    }
    expect([...focused].filter((f) => /Delete|Rename/.test(f))).toEqual([]);
    await screenshot(page, "files-read-only-token");
    await page.context().close();

    const editor = await api().createToken({ ops: ["read", "write", "delete"], prefix: "photos/", label: "editor" });
    const full = await signedIn(editor.token);
    const same = full.locator('tr[data-file="photos/one.txt"]');
    await same.getByRole("button", { name: "Delete photos/one.txt" }).waitFor();
    expect(await same.getByRole("button", { name: "Rename or move photos/one.txt" }).isVisible()).toBe(true);
    expect(await full.getByRole("heading", { name: "Upload" }).isVisible()).toBe(true);
    await full.context().close();
  });
});

describe("a share link with a password", () => {
  it("makes the browser ask (401 with a Basic challenge) and serves the file with the password", async () => {
    const link = await api().shareFile("photos/one.txt", { password: "open sesame" });
    const page = await tab();
    // Challenged with no credentials to give, headless Chromium gives up where a person is asked.
    await expect(page.goto(link.url)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    const bare = await page.request.get(link.url);
    expect(bare.status()).toBe(401);
    expect(bare.headers()["www-authenticate"]).toMatch(/^Basic realm="edgepeer share"/);

    // Given what a person would type (any user name), the browser answers the challenge and gets the file.
    const context = await browser.newContext({ httpCredentials: { username: "anyone", password: "open sesame" } });
    const ok = await (await context.newPage()).goto(link.url);
    expect(ok?.status()).toBe(200);
    expect(await ok?.text()).toBe("one photo");
    await context.close();
  });

  it("is made from the Files view with a password and a download cap; the unprotected link it replaced is revoked", async () => {
    const page = await signedIn(peer().token);
    await page.goto(`${peer().url}/#files`);
    await page.getByLabel("Open folder").fill("photos");
    await page.getByRole("button", { name: "Open", exact: true }).click();
    await page.getByRole("button", { name: "Share link for photos/one.txt" }).click();
    const dialog = page.getByRole("dialog");
    const output = dialog.getByTestId("share-link");
    await expect.poll(() => output.inputValue()).toContain("/api/files/photos/one.txt?");
    const first = await output.inputValue();
    await dialog.getByLabel("Password (optional)").fill("open sesame");
    await dialog.getByLabel("Most downloads (optional)").fill("2");
    await dialog.getByRole("button", { name: "Make a new link" }).click();
    await expect.poll(() => output.inputValue()).not.toBe(first);
    const url = await output.inputValue();
    expect(await dialog.getByTestId("share-terms").textContent()).toContain("with the password, at most 2 downloads");
    await screenshot(page, "files-share-password");
    await dialog.getByRole("button", { name: "Copy" }).click();
    await dialog.getByRole("button", { name: "Close" }).click();

    expect((await fetch(first)).status).toBe(410);
    const listed = (await api().listShares()).find((s) => url.includes(s.id));
    expect(listed).toMatchObject({ name: "photos/one.txt", password: true, maxDownloads: 2, downloads: 0 });
    const bare = await fetch(url);
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toMatch(/^Basic realm="edgepeer share"/);
    // The browser answers the challenge with the password (what its prompt would send).
    const context = await browser.newContext({ httpCredentials: { username: "anyone", password: "open sesame" } });
    const ok = await (await context.newPage()).goto(url);
    expect(ok?.status()).toBe(200);
    expect(await ok?.text()).toBe("one photo");
    await context.close();
  });

  it("had no page errors or CSP violations", () => {
    expect(errors.flat()).toEqual([]);
  });
});
