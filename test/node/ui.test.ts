import { createHash, randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUi, launchChromium, openSection, openTab, screenshot, signIn } from "../support/browser";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

/**
 * The web UI in a real Chromium against a real local network of three peers: every
 * scenario of the issue, checked through what the page shows and, independently, through
 * the API (bytes compared, entries present or gone).
 */
let network: TestNetwork;
let browser: Browser;
const hostsSeen = new Set<string>();
const tabErrors: string[][] = [];

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const peer = (i: number) => {
  const p = network.peers[i];
  if (!p) throw new Error(`no peer ${i}`);
  return p;
};
const api = (i: number) => network.client(peer(i).name);

/** A fresh tab (own sessionStorage) whose hosts, page errors and CSP reports feed the last test. */
async function newTab(width = 1280, colorScheme: "light" | "dark" = "light"): Promise<Page> {
  const tab = await openTab(browser, { width, colorScheme });
  tabErrors.push(tab.errors);
  tab.page.on("request", (r) => hostsSeen.add(new URL(r.url()).host));
  return tab.page;
}

/** A fresh tab signed in to peer `i` through the `#token=` address `npm start` prints. */
async function signedIn(i = 0, width = 1280): Promise<Page> {
  const page = await newTab(width);
  await signIn(page, peer(i).url, peer(i).token);
  return page;
}

/** Records every value the upload rows' `data-sent` takes (old values included, so none is lost). */
async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { progressSeen: number[] }).progressSeen = seen;
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.oldValue !== null) seen.push(Number(r.oldValue));
        const now = (r.target as HTMLElement).dataset.sent;
        if (now !== undefined) seen.push(Number(now));
      }
    }).observe(document.body, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-sent"] });
  });
}

const progressSeen = (page: Page) => page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);

async function downloadBytes(page: Page, name: string): Promise<{ bytes: Buffer; filename: string }> {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: `Download ${name}`, exact: true }).click(),
  ]);
  const path = await download.path();
  return { bytes: await readFile(path), filename: download.suggestedFilename() };
}

beforeAll(async () => {
  buildUi();
  network = await startNetwork({ peers: 3 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await network?.stop();
  if (network) await removeTemp(network.dir);
});

describe("web UI: serving", () => {
  it("serves the shell with a CSP that forbids inline script and eval, and frames nowhere", async () => {
    const res = await fetch(`${peer(0).url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    // The page may call the peers it knows (health checks, send to peer), and only those.
    expect(csp).toContain(`connect-src 'self' ${new URL(peer(1).url).origin} ${new URL(peer(2).url).origin}`);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\bstyle=|\bon[a-z]+=/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("revalidates its assets by ETag (304) and answers an unknown asset with the contract's 404", async () => {
    const first = await fetch(`${peer(0).url}/assets/app.js`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect((await first.text()).length).toBeGreaterThan(1000);
    const again = await fetch(`${peer(0).url}/assets/app.js`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${peer(0).url}/assets/nothing.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});

describe("web UI: CSP in the browser", () => {
  it("runs no inline script and no eval, even when the page is made to try", async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${peer(0).url}/#token=${peer(0).token}`);
    await tab.page.getByTestId("peer-name").waitFor();
    // Each attempt runs from a timer, as page code would, not on the test driver's own stack.
    const attempt = (code: string) =>
      tab.page.evaluate(
        (source) =>
          new Promise<string>((resolve) =>
            setTimeout(() => {
              try {
                // The page's own Function constructor, called as page code would call it.
                resolve(String(new Function(source)()));
              } catch (err) {
                resolve((err as Error).name);
              }
            }, 0),
          ),
        code,
      );
    const probes = await tab.page.evaluate(
      () =>
        new Promise<Record<string, string>>((resolve) =>
          setTimeout(() => {
            const out: Record<string, string> = {};
            const tryIt = (name: string, run: () => unknown) => {
              try {
                run();
                out[name] = "ran";
              } catch (err) {
                out[name] = (err as Error).name;
              }
            };
            tryIt("eval", () => (0, eval)("1 + 1"));
            tryIt("inline script", () => {
              const script = document.createElement("script");
              script.textContent = "window.inlineRan = true";
              document.body.append(script);
            });
            tryIt("inline handler", () => document.createElement("img").setAttribute("onerror", "window.inlineRan = true"));
            out.inlineRan = String((window as unknown as { inlineRan?: boolean }).inlineRan === true);
            resolve(out);
          }, 0),
        ),
    );
    expect(probes).toEqual({ eval: "EvalError", "inline script": "TypeError", "inline handler": "TypeError", inlineRan: "false" });
    expect(await attempt("return 1")).toBe("EvalError");
    await tab.context.close();
  });
});

describe("web UI: sign-in", () => {
  it("opens signed out, without an error, when the tab has no token", async () => {
    const page = await newTab();
    await page.goto(`${peer(2).url}/`);
    await page.getByTestId("signed-out").waitFor();
    expect(await page.getByTestId("signin-error").count()).toBe(0);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(`Sign in to ${peer(2).name}`);
    await page.context().close();
  });

  it("refuses a wrong token and shows the signed-out state", async () => {
    const page = await newTab();
    await page.goto(`${peer(0).url}/#token=not-the-token`);
    await expect.poll(() => page.getByTestId("signin-error").textContent()).toContain("The peer refused this token");
    expect(await page.getByTestId("signed-out").isVisible()).toBe(true);
    expect(await page.getByRole("navigation", { name: "Sections" }).count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(page.url()).not.toContain("not-the-token");
    await screenshot(page, "signed-out-wrong-token");
    await page.context().close();
  });

  it("signs in from the #token= address, takes the token out of the address bar and keeps it for the tab", async () => {
    const page = await signedIn(0);
    expect(page.url()).not.toContain("token");
    expect(await page.getByTestId("peer-name").textContent()).toBe(peer(0).name);
    // A reload stays signed in (sessionStorage), with no token in the address.
    await page.reload();
    await page.getByTestId("peer-name").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByTestId("signed-out").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.context().close();
  });

  it("signs in with a typed token, by keyboard alone", async () => {
    const page = await newTab();
    await page.goto(`${peer(1).url}/`);
    await page.getByLabel("Peer token").waitFor();
    // The token field has the focus on arrival: type, then Enter submits.
    await page.keyboard.type(peer(1).token);
    await page.keyboard.press("Enter");
    await page.getByTestId("peer-name").waitFor();
    expect(await page.getByTestId("peer-name").textContent()).toBe(peer(1).name);
    // Tabs are links: focus one and press Enter.
    await page.getByRole("link", { name: "Memory", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Memory" }).waitFor();
    await page.context().close();
  });
});

describe("web UI: dashboard", () => {
  it("shows the peer's name and numbers, and that each known peer answers", async () => {
    await api(0).putFile("dash/one.txt", "one");
    const page = await signedIn(0);
    await openSection(page, "Dashboard");
    const identity = page.getByTestId("identity");
    await expect.poll(() => identity.textContent()).toContain(peer(0).name);
    await expect.poll(() => page.locator('[data-stat="Files"] .stat-value').textContent()).not.toBe("0");
    for (const other of [peer(1), peer(2)]) {
      const status = page.locator(`tr[data-peer="${other.name}"] .badge`);
      await expect.poll(() => status.textContent()).toMatch(/^answers · v\d/);
    }
    expect(await page.locator(`tr[data-peer="${peer(0).name}"]`).count()).toBe(0);
    await screenshot(page, "dashboard");
    await page.context().close();
  });
});

describe("web UI: files", () => {
  it("uploads with the picker into a folder, shows progress, lists size and checksum, and downloads the same bytes", async () => {
    const page = await signedIn(0);
    await openSection(page, "Files");
    await page.getByLabel("Open folder").fill("ui/docs");
    await page.getByRole("button", { name: "Open", exact: true }).click();
    await page.locator(".target-folder", { hasText: "/ui/docs/" }).waitFor();

    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await recordProgress(page);
    await page.getByTestId("file-picker").setInputFiles({ name: "report.bin", mimeType: "application/octet-stream", buffer: bytes });
    const upload = page.locator('[data-upload="ui/docs/report.bin"]');
    await page.locator('[data-upload="ui/docs/report.bin"][data-state="done"]').waitFor();
    expect(await upload.locator("progress").evaluate((p: HTMLProgressElement) => [p.value, p.max])).toEqual([bytes.length, bytes.length]);
    expect(await upload.locator(".upload-status").textContent()).toContain(`SHA-256 ${sha256(bytes).slice(0, 12)}`);
    expect(Math.max(...(await progressSeen(page)))).toBe(bytes.length);

    const row = page.locator('tr[data-file="ui/docs/report.bin"]');
    await row.waitFor();
    expect(await row.locator("[data-sha256]").getAttribute("data-sha256")).toBe(sha256(bytes));
    expect(await row.locator('td[data-label="Size"]').textContent()).toBe("3.0 MiB");

    // The folder view: "ui/" shows "docs/" as a folder.
    await page.getByRole("button", { name: "ui", exact: true }).click();
    await page.locator('tr[data-folder="docs"]').waitFor();
    await page.getByRole("button", { name: "docs/", exact: true }).click();
    await row.waitFor();

    const { bytes: downloaded, filename } = await downloadBytes(page, "ui/docs/report.bin");
    expect(filename).toBe("report.bin");
    expect(downloaded.equals(bytes)).toBe(true);
    await screenshot(page, "files");
    await page.context().close();
  });

  it("uploads a large file in parts, with progress between the parts, and it downloads intact", async () => {
    const size = 70 * 1024 * 1024 + 123;
    const bytes = randomBytes(size);
    const path = join(tmpdir(), `edgepeer-ui-big-${process.pid}.bin`);
    await writeFile(path, bytes);
    try {
      const page = await signedIn(0);
      await openSection(page, "Files");
      await recordProgress(page);
      await page.getByTestId("file-picker").setInputFiles(path);
      const name = `edgepeer-ui-big-${process.pid}.bin`;
      await page.locator(`[data-upload="${name}"][data-state="done"]`).waitFor({ timeout: 100_000 });
      expect(await page.locator(`[data-upload="${name}"] .upload-status`).textContent()).toContain("in parts");
      const seen = await progressSeen(page);
      expect(Math.max(...seen)).toBe(size);
      // Each part reports when it is sent: progress is visible before the whole file is.
      expect(seen.some((n) => n > 0 && n < size)).toBe(true);

      const info = await api(0).headFile(name);
      expect(info?.size).toBe(size);
      expect(info?.sha256).toBe(sha256(bytes));
      const { bytes: downloaded } = await downloadBytes(page, name);
      expect(sha256(downloaded)).toBe(sha256(bytes));
      await api(0).deleteFile(name);
      await page.context().close();
    } finally {
      await rm(path, { force: true });
    }
  });

  it("cancels an upload in progress, and the peer keeps nothing of it", async () => {
    const size = 80 * 1024 * 1024;
    const path = join(tmpdir(), `edgepeer-ui-cancel-${process.pid}.bin`);
    await writeFile(path, randomBytes(size));
    try {
      const page = await signedIn(0);
      await openSection(page, "Files");
      const name = `edgepeer-ui-cancel-${process.pid}.bin`;
      await page.getByTestId("file-picker").setInputFiles(path);
      await page.getByRole("button", { name: `Cancel the upload of ${name}` }).click();
      await page.locator(`[data-upload="${name}"][data-state="cancelled"]`).waitFor();
      expect(await api(0).headFile(name)).toBeNull();
      expect(await page.getByTestId("messages").getByRole("alert").count()).toBe(0);
      await page.context().close();
    } finally {
      await rm(path, { force: true });
    }
  });

  it("uploads a file dropped on the drop zone", async () => {
    const page = await signedIn(0);
    await openSection(page, "Files");
    const dataTransfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped by the browser test\n"], "dropped.txt", { type: "text/plain" }));
      return dt;
    });
    await page.getByTestId("dropzone").dispatchEvent("dragover", { dataTransfer });
    await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer });
    await page.locator('tr[data-file="dropped.txt"]').waitFor();
    // The stored bytes, by the SHA-256 the peer computed of them.
    expect((await api(0).headFile("dropped.txt"))?.sha256).toBe(sha256(Buffer.from("dropped by the browser test\n")));
    await page.context().close();
  });

  it("deletes only after confirmation", async () => {
    await api(0).putFile("ui/delete-me.txt", "short-lived");
    const page = await signedIn(0);
    await openSection(page, "Files");
    const row = page.locator('tr[data-file="ui/delete-me.txt"]');
    await page.getByRole("button", { name: "ui/", exact: true }).click();
    await row.waitFor();

    await row.getByRole("button", { name: "Delete ui/delete-me.txt" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("cannot be undone");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await api(0).headFile("ui/delete-me.txt")).not.toBeNull();

    await row.getByRole("button", { name: "Delete ui/delete-me.txt" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await row.waitFor({ state: "detached" });
    expect(await api(0).headFile("ui/delete-me.txt")).toBeNull();
    await page.context().close();
  });

  it("shows the API's error when a file is already gone, instead of swallowing it", async () => {
    await api(0).putFile("ui/vanishing.txt", "here, then not");
    const page = await signedIn(0);
    await openSection(page, "Files");
    await page.getByRole("button", { name: "ui/", exact: true }).click();
    const row = page.locator('tr[data-file="ui/vanishing.txt"]');
    await row.waitFor();
    await api(0).deleteFile("ui/vanishing.txt");
    await row.getByRole("button", { name: "Delete ui/vanishing.txt" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    const alert = page.getByTestId("messages").getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("not_found");
    expect(await alert.textContent()).toContain('No file "ui/vanishing.txt"');
    await page.context().close();
  });

  it("makes a share link that downloads the file without a token", async () => {
    await api(0).putFile("shared.txt", "shared through a link");
    const page = await signedIn(0);
    await openSection(page, "Files");
    await page.getByRole("button", { name: "Share link for shared.txt" }).click();
    const link = page.getByTestId("share-link");
    await expect.poll(() => link.inputValue()).toContain("/api/files/shared.txt?");
    const res = await fetch(await link.inputValue());
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("shared through a link");
    await page.getByRole("dialog").getByRole("button", { name: "Copy" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await page.context().close();
  });

  it("sends a file to another peer: that peer pulls it, and refuses a wrong token", async () => {
    const bytes = randomBytes(256 * 1024);
    await api(0).putFile("outbox/payload.bin", bytes);
    const page = await signedIn(0);
    await openSection(page, "Files");
    await page.getByRole("button", { name: "outbox/", exact: true }).click();
    await page.getByRole("button", { name: "Send outbox/payload.bin to a peer" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Destination peer").selectOption(peer(1).name);
    await dialog.getByLabel("Name there").fill("inbox/payload.bin");

    await dialog.getByLabel("Destination's token").fill("wrong-token");
    await dialog.getByRole("button", { name: "Send" }).click();
    const refused = page.getByTestId("dialog-error");
    await refused.waitFor();
    expect(await refused.textContent()).toContain("unauthorized");
    expect(await refused.textContent()).toContain(peer(1).name);
    await screenshot(page, "files-send-refused");
    expect(await api(1).headFile("inbox/payload.bin")).toBeNull();

    await dialog.getByLabel("Destination's token").fill(peer(1).token);
    await dialog.getByRole("button", { name: "Send" }).click();
    await dialog.waitFor({ state: "detached" });
    const info = page.getByTestId("messages").getByRole("status").filter({ hasText: "Sent outbox/payload.bin" });
    await info.waitFor();
    expect(await info.textContent()).toContain(`to ${peer(1).name} as inbox/payload.bin`);
    expect(Buffer.from(await api(1).getFileBytes("inbox/payload.bin")).equals(bytes)).toBe(true);

    // It is there in peer2's own UI too.
    const there = await signedIn(1);
    await openSection(there, "Files");
    await there.getByRole("button", { name: "inbox/", exact: true }).click();
    const row = there.locator('tr[data-file="inbox/payload.bin"]');
    await row.waitFor();
    expect(await row.locator("[data-sha256]").getAttribute("data-sha256")).toBe(sha256(bytes));
    await screenshot(there, "files-after-send");
    await there.context().close();
    await page.context().close();
  });
});

describe("web UI: a page from an origin the destination does not allow", () => {
  it("says why sending failed: the destination's CORS refused this page", async () => {
    await api(0).putFile("cors/note.txt", "from another origin");
    // localhost is not 127.0.0.1 to a browser: peer2 allows only the origins in its PEERS.
    const origin = peer(0).url.replace("127.0.0.1", "localhost");
    const tab = await openTab(browser);
    await tab.page.goto(`${origin}/#token=${peer(0).token}`);
    await tab.page.getByTestId("peer-name").waitFor();
    await openSection(tab.page, "Files");
    await tab.page.getByRole("button", { name: "cors/", exact: true }).click();
    await tab.page.getByRole("button", { name: "Send cors/note.txt to a peer" }).click();
    const dialog = tab.page.getByRole("dialog");
    await dialog.getByLabel("Destination peer").selectOption(peer(1).name);
    await dialog.getByLabel("Destination's token").fill(peer(1).token);
    await dialog.getByRole("button", { name: "Send" }).click();
    const refused = tab.page.getByTestId("dialog-error");
    await refused.waitFor();
    expect(await refused.textContent()).toContain(`${origin} must be in its PEERS (or CORS_ORIGINS)`);
    expect(await api(1).headFile("cors/note.txt")).toBeNull();
    await tab.context.close();
  });
});

describe("web UI: memory", () => {
  it("validates JSON, sets a key, reads it back, filters and deletes it", async () => {
    const page = await signedIn(0);
    await openSection(page, "Memory");
    await page.getByRole("textbox", { name: "Key", exact: true }).fill("ui/greeting");
    const value = page.getByLabel(/^Value/);
    await value.fill('{"n": 1, "who": "browser"');
    await expect.poll(() => page.locator("#memory-value-check").textContent()).toContain("Not JSON");
    expect(await page.getByRole("button", { name: "Save" }).isDisabled()).toBe(true);
    await value.fill('{"n": 1, "who": "browser"}');
    await expect.poll(() => page.locator("#memory-value-check").textContent()).toBe("Valid JSON.");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator('tr[data-key="ui/greeting"]').waitFor();
    expect(await api(0).getMemory("ui/greeting")).toEqual({ n: 1, who: "browser" });

    await api(0).setMemory("other/key", [1, 2, 3]);
    await page.getByLabel("Filter").fill("ui/");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator('tr[data-key="other/key"]').waitFor({ state: "detached" });
    expect(await page.locator('tr[data-key="ui/greeting"]').count()).toBe(1);

    await value.fill("");
    await page.getByRole("button", { name: "View ui/greeting" }).click();
    await expect.poll(() => value.inputValue()).toBe(JSON.stringify({ n: 1, who: "browser" }, null, 2));
    await screenshot(page, "memory");

    await page.getByRole("button", { name: "Delete ui/greeting" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await page.locator('tr[data-key="ui/greeting"]').waitFor({ state: "detached" });
    await expect(api(0).getMemory("ui/greeting")).rejects.toMatchObject({ code: "not_found" });
    await page.context().close();
  });
});

describe("web UI: memory keys that expire", () => {
  it("lists a key with a TTL, showing when it expires", async () => {
    await api(0).setMemory("ttl/ui-key", "soon", 3600);
    const expires = (await api(0).listMemory({ prefix: "ttl/ui-key" })).keys[0]?.expires ?? "";
    expect(Date.parse(expires)).toBeGreaterThan(Date.now() + 3500_000);
    const page = await signedIn(0);
    await openSection(page, "Memory");
    const cell = page.locator('tr[data-key="ttl/ui-key"] td[data-label="Expires"]');
    await cell.waitFor();
    const shown = await page.evaluate(
      (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }),
      expires,
    );
    expect(await cell.textContent()).toBe(shown);
    await page.context().close();
  });
});

describe("web UI: tasks", () => {
  it("runs a task, shows its result and finds it in the history; a failing task shows its error", async () => {
    const page = await signedIn(0);
    await openSection(page, "Tasks");
    await page.getByLabel("Example").selectOption({ label: "Square" });
    await page.getByLabel(/^Arguments/).fill("[12]");
    await page.getByRole("button", { name: "Run" }).click();
    const outcome = page.locator('[data-testid="task-result"] .outcome');
    await outcome.waitFor();
    expect(await outcome.getAttribute("data-status")).toBe("succeeded");
    expect(await page.getByTestId("task-value").textContent()).toBe("144");
    const okId = (await outcome.getAttribute("data-task-id")) ?? "";
    await page.locator(`tr[data-task-id="${okId}"]`).waitFor();

    await page.getByLabel("Example").selectOption({ label: "Throws" });
    await page.getByRole("button", { name: "Run" }).click();
    await page.locator('[data-testid="task-result"] .outcome[data-status="failed"]').waitFor();
    expect(await page.getByTestId("task-error").textContent()).toContain("boom");
    const failedId = (await page.locator('[data-testid="task-result"] .outcome').getAttribute("data-task-id")) ?? "";
    await page.locator(`tr[data-task-id="${failedId}"]`).waitFor();
    await screenshot(page, "tasks");

    // The whole record, from GET /api/tasks/{id}.
    await page.getByRole("button", { name: `Details of task ${failedId}` }).click();
    const record = JSON.parse((await page.getByTestId("task-record").textContent()) ?? "{}") as {
      id?: string;
      status?: string;
      error?: string;
    };
    expect(record).toMatchObject({ id: failedId, status: "failed" });
    expect(record.error).toContain("boom");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

    await page.getByLabel("Status").selectOption("failed");
    await page.locator(`tr[data-task-id="${okId}"]`).waitFor({ state: "detached" });
    const statuses = await page.locator("tr[data-task-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")));
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(["failed"]));
    await page.context().close();
  });

  it("pages through the history and shows and clears the result cache", async () => {
    await api(0).runBatch(Array.from({ length: 25 }, (_, i) => ({ program: "function main(x) { return x + 10; }", args: [i] })));
    const page = await signedIn(0);
    await openSection(page, "Tasks");
    const rows = page.locator("tr[data-task-id]");
    await expect.poll(() => rows.count()).toBe(20);
    const firstPage = await rows.first().getAttribute("data-task-id");
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => rows.first().getAttribute("data-task-id")).not.toBe(firstPage);
    expect(await page.getByText("page 2").count()).toBe(1);
    await page.getByRole("button", { name: "← Newer" }).click();
    await expect.poll(() => rows.first().getAttribute("data-task-id")).toBe(firstPage);

    const cache = page.getByTestId("cache-info");
    await expect.poll(() => cache.textContent()).toMatch(/^[1-9]\d* cached result/);
    await page.getByRole("button", { name: "Clear cache" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Clear cache" }).click();
    await expect.poll(() => cache.textContent()).toMatch(/^0 cached results/);
    expect((await api(0).cacheInfo()).entries).toBe(0);
    await page.context().close();
  });
});

describe("web UI: phone width and offline", () => {
  it("fits a 390 px wide screen on every tab", async () => {
    const page = await signedIn(0, 390);
    for (const section of ["Dashboard", "Files", "Memory", "Tasks"] as const) {
      await openSection(page, section);
      await page.waitForLoadState("networkidle");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${section} scrolls sideways`).toBeLessThanOrEqual(0);
      await screenshot(page, `phone-${section.toLowerCase()}`);
    }
    await page.context().close();
  });

  it("follows the reader's dark colour scheme", async () => {
    const page = await newTab(1280, "dark");
    await page.goto(`${peer(0).url}/#token=${peer(0).token}`);
    await page.getByTestId("peer-name").waitFor();
    await openSection(page, "Files");
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(15, 18, 24)");
    await screenshot(page, "files-dark");
    await page.context().close();
  });

  it("only ever contacted the local peers, with no CSP violation or page error", async () => {
    // A tour of its own, so that run alone this checks a page that did something.
    const page = await signedIn(0);
    for (const section of ["Files", "Memory", "Tasks", "Dashboard"] as const) await openSection(page, section);
    await page.waitForLoadState("networkidle");
    await page.context().close();
    expect(tabErrors.length).toBeGreaterThan(0);
    expect(hostsSeen.has(new URL(peer(0).url).host)).toBe(true);
    const allowed = new Set(network.peers.map((p) => new URL(p.url).host));
    expect([...hostsSeen].filter((h) => !allowed.has(h))).toEqual([]);
    expect(tabErrors.flat()).toEqual([]);
  });
});
