import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where the browser tests write their screenshots (gitignored). */
export const ARTIFACTS = join(process.cwd(), "test-artifacts");

/**
 * Builds the UI assets of this checkout (src/ui → src/ui/generated), so the network the test
 * starts bundles the UI being tested; a no-op write when nothing changed.
 */
export function buildUi(): void {
  execFileSync(process.execPath, ["--import", "tsx", "scripts/build-ui.ts"], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Headless Chromium with nothing that reaches the internet on its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A fresh tab (own sessionStorage) that records page errors, CSP violations and every host it contacts. */
export async function openTab(
  browser: Browser,
  options: { width?: number; height?: number; colorScheme?: "light" | "dark" } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[]; hosts: Set<string> }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    acceptDownloads: true,
    colorScheme: options.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const errors: string[] = [];
  const hosts = new Set<string>();
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Trusted Type/i.test(message.text())) errors.push(`csp: ${message.text()}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol === "http:" || url.protocol === "https:") hosts.add(url.host);
  });
  return { context, page, errors, hosts };
}

/** Saves a full-page screenshot as test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs `page` in to the peer at `url` through the `#token=` address `npm start` prints, and waits for the app. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/#token=${token}`);
  await page.getByTestId("peer-name").waitFor();
}

/** Opens a section (Files, Replication, Access, …) from the navigation and waits for its heading. */
export async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { level: 1, name }).waitFor();
}

/** Opens `folder` in the Files view through its "Open folder" field, and waits for its listing. */
export async function openFolder(page: Page, folder: string): Promise<void> {
  await page.getByLabel("Open folder").fill(folder);
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await page.locator(".target-folder", { hasText: `/${folder}/` }).waitFor();
  await page
    .getByTestId("files-summary")
    .filter({ hasText: `in /${folder}/` })
    .waitFor();
}
