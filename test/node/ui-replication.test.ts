import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerClient, PeerError } from "../../src/client";
import { buildUi, launchChromium, openTab, screenshot } from "../support/browser";
import { type TestNetwork, removeTemp, startNetwork } from "../support/network";

/**
 * The Replication view, and Compare/Sync with a peer, in a real Chromium against a real
 * network of two peers under Miniflare's queues (no schedule: `--reconcile-every 0`, so what
 * arrives was delivered by the queue or by a reconcile the test asked for). Every outcome the
 * page shows is checked again through the API.
 */
let network: TestNetwork;
let browser: Browser;
const tabErrors: string[][] = [];

const peer = (i: number) => {
  const p = network.peers[i];
  if (!p) throw new Error(`no peer ${i}`);
  return p;
};
const api = (i: number) => new PeerClient({ url: peer(i).url, token: peer(i).token, name: peer(i).name });
const text = (s: string) => new TextEncoder().encode(s);

async function signedIn(i = 0, width = 1280): Promise<Page> {
  const tab = await openTab(browser, { width });
  tabErrors.push(tab.errors);
  await tab.page.goto(`${peer(i).url}/#token=${peer(i).token}`);
  await tab.page.getByTestId("peer-name").waitFor();
  return tab.page;
}

async function openReplication(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Replication", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Replication" }).waitFor();
}

/** The rule's row once its cell `testid` reads `value` (the view reads the status again every few seconds). */
async function cellReads(page: Page, rule: string, testid: string, value: string): Promise<void> {
  await page
    .locator(`tr[data-rule="${rule}"] [data-testid="${testid}"]`)
    .filter({ hasText: new RegExp(`^${value}$`) })
    .waitFor({ timeout: 60_000 });
}

beforeAll(async () => {
  buildUi();
  network = await startNetwork({ peers: 2, args: ["--reconcile-every", "0"] });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await network?.stop();
  await removeTemp(network?.dir ?? "");
});

describe("the Replication view", () => {
  it("adds a rule with a scoped destination token, shows deliveries, reconciles on demand and removes the rule", async () => {
    // Written before the rule: only a reconcile sends it.
    await api(0).putFile("photos/before.txt", "from before the rule");
    const dest = await api(1).createToken({ ops: ["read", "write", "delete"], prefix: "backup/photos/", label: "backup from peer1" });

    const page = await signedIn(0);
    await openReplication(page);
    await page.getByText("No rules: nothing is replicated.").waitFor();

    await page.getByLabel("Folder here").fill("photos/");
    expect(await page.getByLabel("Rule id").inputValue()).toBe("photos");
    await page.getByLabel("Destination peer").selectOption(peer(1).name);
    await page.getByLabel("Folder there").fill("backup/photos/");
    // A token the destination refuses is refused now, with the destination's reason.
    await page.getByLabel("Destination's token").fill("not-a-token");
    await page.getByRole("button", { name: "Add rule" }).click();
    const refused = page.getByTestId("messages").getByRole("alert").filter({ hasText: "refused the token" });
    await refused.waitFor();
    expect(await refused.getAttribute("data-code")).toBe("bad_request");
    expect(await api(0).replicationRules()).toEqual([]);

    await page.getByLabel("Destination's token").fill(dest.token);
    await page.getByRole("button", { name: "Add rule" }).click();
    const row = page.locator('tr[data-rule="photos"]');
    await row.waitFor();
    expect(await row.textContent()).toContain("/backup/photos/");
    expect(await page.getByLabel("Destination's token").inputValue()).toBe("");
    const [rule] = await api(0).replicationRules();
    expect(rule).toMatchObject({ id: "photos", prefix: "photos/", to: peer(1).name, as: "backup/photos/", deletes: "mirror" });
    expect(JSON.stringify(await api(0).replicationRules())).not.toContain(dest.token);

    for (let i = 0; i < 3; i++) await api(0).putFile(`photos/new ${i}.txt`, `photo ${i}`);
    await cellReads(page, "photos", "delivered", "3");
    await cellReads(page, "photos", "pending", "0");
    expect(await row.getByTestId("last-success").textContent()).not.toBe("—");
    for (let i = 0; i < 3; i++) expect(await api(1).getFileBytes(`backup/photos/new ${i}.txt`)).toEqual(text(`photo ${i}`));
    expect(await api(1).headFile("backup/photos/before.txt")).toBeNull();
    await screenshot(page, "replication-rules");

    await row.getByRole("button", { name: "Reconcile photos now" }).click();
    await page.getByTestId("messages").getByRole("status").filter({ hasText: "Reconciling photos" }).waitFor();
    await cellReads(page, "photos", "delivered", "4");
    expect(await api(1).getFileBytes("backup/photos/before.txt")).toEqual(text("from before the rule"));

    // Removing asks first; cancelling keeps the rule.
    await row.getByRole("button", { name: "Remove rule photos" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect((await api(0).replicationRules()).length).toBe(1);
    await row.getByRole("button", { name: "Remove rule photos" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Remove", exact: true }).click();
    await row.waitFor({ state: "detached" });
    expect(await api(0).replicationRules()).toEqual([]);
    await page.context().close();
  });

  it("says why deliveries fail once the destination revokes the token, and the source keeps its file", async () => {
    const dest = await api(1).createToken({ ops: ["read", "write"], prefix: "drop/", label: "soon revoked" });
    await api(0).putReplicationRule("docs", { prefix: "docs/", to: peer(1).name, as: "drop/", token: dest.token, deletes: "keep" });
    await api(1).revokeToken(dest.id);
    await api(0).putFile("docs/after-revoke.txt", "still here");

    const page = await signedIn(0);
    await openReplication(page);
    const error = page.locator('tr[data-rule="docs"] [data-testid="last-error"]');
    await error.filter({ hasText: /revoked|401|unauthorized/i }).waitFor({ timeout: 60_000 });
    expect(await page.locator('tr[data-rule="docs"]').textContent()).toContain("keep");
    expect(await api(0).getFileBytes("docs/after-revoke.txt")).toEqual(text("still here"));
    expect(await api(1).headFile("drop/after-revoke.txt")).toBeNull();
    await screenshot(page, "replication-error");
    await api(0).deleteReplicationRule("docs");
    await page.context().close();
  });

  it("adds a rule by keyboard alone and fits a 390 px wide screen", async () => {
    const dest = await api(1).createToken({ ops: ["write"], prefix: "inbox/", label: "drop box" });
    const page = await signedIn(0, 390);
    await openReplication(page);
    await page.getByLabel("Folder here").focus();
    await page.keyboard.type("notes");
    await page.keyboard.press("Tab"); // rule id, filled from the folder
    await page.keyboard.press("Tab"); // destination peer: the only other peer is chosen
    await page.keyboard.press("Tab");
    await page.keyboard.type("inbox/");
    await page.keyboard.press("Tab");
    await page.keyboard.type(dest.token);
    await page.keyboard.press("Enter");
    await page.locator('tr[data-rule="notes"]').waitFor();
    expect((await api(0).replicationRules()).find((r) => r.id === "notes")).toMatchObject({
      prefix: "notes/",
      as: "inbox/",
      to: peer(1).name,
    });

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, "Replication scrolls sideways").toBeLessThanOrEqual(0);
    await screenshot(page, "phone-replication");
    await api(0).deleteReplicationRule("notes");
    await page.context().close();
  });
});

describe("whether each file's copy is current (GET /api/replication/{id}/files)", () => {
  it("tells current, differs and missing apart from the two listings, one level of a folder under the rule", async () => {
    // Written before the rule exists and no reconcile runs: nothing is delivered by itself.
    await api(0).putFile("shots/same.jpg", "same bytes");
    await api(0).putFile("shots/changed.jpg", "new bytes");
    await api(0).putFile("shots/absent.jpg", "not there");
    await api(0).putFile("shots/sub/deep.jpg", "one level down");
    await api(1).putFile("backup/shots/same.jpg", "same bytes");
    await api(1).putFile("backup/shots/changed.jpg", "old bytes");
    await api(1).putFile("backup/shots/sub/deep.jpg", "one level down");
    const dest = await api(1).createToken({ ops: ["read", "write"], prefix: "backup/shots/", label: "shots" });
    await api(0).putReplicationRule("shots", { prefix: "shots/", to: peer(1).name, as: "backup/shots/", token: dest.token });

    const top = await api(0).replicaStates("shots");
    expect(top).toEqual({
      rule: "shots",
      prefix: "shots/",
      files: [
        { name: "shots/absent.jpg", state: "missing" },
        { name: "shots/changed.jpg", state: "differs" },
        { name: "shots/same.jpg", state: "current" },
      ],
      cursor: null,
      error: null,
    });
    expect((await api(0).replicaStates("shots", { prefix: "shots/sub/" })).files).toEqual([
      { name: "shots/sub/deep.jpg", state: "current" },
    ]);

    const outside = await api(0)
      .replicaStates("shots", { prefix: "shots2/" })
      .catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(PeerError);
    expect(outside).toMatchObject({ status: 400, code: "bad_request" });
    await expect(api(0).replicaStates("nope")).rejects.toMatchObject({ status: 404, code: "not_found" });
    const scoped = await api(0).createToken({ ops: ["read"], prefix: "shots/" });
    const viewer = new PeerClient({ url: peer(0).url, token: scoped.token, name: peer(0).name });
    await expect(viewer.replicaStates("shots")).rejects.toMatchObject({ status: 403, code: "forbidden" });
  });

  it("says every state is unknown, and why, when the destination refuses the rule's token", async () => {
    const dest = await api(1).createToken({ ops: ["read", "write"], prefix: "backup/gone/" });
    await api(0).putFile("gone/a.txt", "a");
    await api(0).putReplicationRule("gone", { prefix: "gone/", to: peer(1).name, as: "backup/gone/", token: dest.token, deletes: "keep" });
    await api(1).revokeToken(dest.id);
    const page = await api(0).replicaStates("gone");
    expect(page.files).toEqual([{ name: "gone/a.txt", state: "unknown" }]);
    expect(page.error).toMatch(/revoked/);
    await api(0).deleteReplicationRule("gone");
  });
});

describe("the page", () => {
  it("had no page errors or CSP violations", () => {
    expect(tabErrors.length).toBeGreaterThan(0);
    expect(tabErrors.flat()).toEqual([]);
  });
});
