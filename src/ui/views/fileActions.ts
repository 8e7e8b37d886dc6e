import { type FileMeta, PeerClient, PeerError, type PeerRef } from "../../client";
import type { AppContext } from "../context";
import { openDialog } from "../dialog";
import { formatBytes, formatDate, h, uid } from "../dom";
import { showInfo } from "../messages";
import { forgetPeerToken, peerToken, storePeerToken } from "../session";

/** How long a download's signed link lives: only until the browser has started. */
const DOWNLOAD_LINK_TTL = 300;
/** Long enough for the destination to pull a large file. */
const SEND_LINK_TTL = 3600;
const SHARE_TTLS = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "1 day" },
  { seconds: 604800, label: "7 days" },
];

/** Downloads through a short-lived signed link the browser streams to disk: no file is held in memory. */
export async function downloadFile(ctx: AppContext, file: FileMeta): Promise<void> {
  try {
    const link = await ctx.client.shareFile(file.name, DOWNLOAD_LINK_TTL);
    const url = new URL(link.url);
    url.searchParams.set("download", "1");
    const a = h("a", { href: url.href, download: file.name.split("/").pop() ?? file.name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (err) {
    ctx.fail(err, `Could not download ${file.name}`);
  }
}

/** A dialog with a signed link to copy, valid for a chosen time. */
export async function shareFile(ctx: AppContext, file: FileMeta): Promise<void> {
  const output = h("input", { type: "text", readonly: true, class: "mono", "aria-label": "Share link", "data-testid": "share-link" });
  const expires = h("p", { class: "hint" });
  const ttl = h(
    "select",
    { id: uid("ttl") },
    SHARE_TTLS.map((t) => h("option", { value: t.seconds }, t.label)),
  );
  const copy = h("button", { type: "button", class: "primary" }, "Copy");
  const make = async () => {
    try {
      const link = await ctx.client.shareFile(file.name, Number(ttl.value));
      output.value = link.url;
      expires.textContent = `Anyone with this link can download ${file.name} until ${formatDate(link.expires)}, without a token.`;
    } catch (err) {
      ctx.fail(err, `Could not make a link for ${file.name}`);
    }
  };
  copy.addEventListener("click", async () => {
    output.select();
    try {
      await navigator.clipboard.writeText(output.value);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Press Ctrl+C";
    }
  });
  ttl.addEventListener("change", () => void make());
  await make();
  if (!output.value) return;
  void openDialog({
    title: `Share ${file.name}`,
    body: [h("label", { for: ttl.id }, "Valid for"), ttl, h("div", { class: "inline-form" }, output, copy), expires],
  });
}

/**
 * "Send to peer": this peer signs a link, the destination (asked with its own token, typed
 * here and kept for the tab) pulls it and verifies its SHA-256. No byte passes the browser.
 */
export async function sendFile(ctx: AppContext, file: FileMeta): Promise<void> {
  let known: PeerRef[];
  try {
    known = (await ctx.client.peers()).filter((p) => p.name !== ctx.peerName && new URL(p.url).origin !== location.origin);
  } catch (err) {
    return ctx.fail(err, "Could not read the known peers");
  }
  if (!known.length) {
    showInfo("This peer knows no other peer (its PEERS var is empty), so there is nowhere to send to.");
    return;
  }
  const select = h(
    "select",
    { id: uid("peer") },
    known.map((p) => h("option", { value: p.name }, `${p.name} — ${p.url}`)),
  );
  const token = h("input", { id: uid("token"), type: "password", autocomplete: "off", spellcheck: false, required: true });
  const target = h("input", { id: uid("name"), type: "text", value: file.name, required: true, spellcheck: false });
  const chosen = () => known.find((p) => p.name === select.value) ?? known[0]!;
  const fillToken = () => {
    token.value = peerToken(chosen().url);
  };
  select.addEventListener("change", fillToken);
  fillToken();

  await openDialog({
    title: `Send ${file.name} to another peer`,
    body: [
      h(
        "p",
        { class: "hint" },
        "This peer signs a link to the file; the destination pulls it and checks its SHA-256. The destination's token is needed to ask it, and is kept for this tab only.",
      ),
      h("label", { for: select.id }, "Destination peer"),
      select,
      h("label", { for: token.id }, "Destination's token"),
      token,
      h("label", { for: target.id }, "Name there"),
      target,
    ],
    confirm: "Send",
    onConfirm: async () => {
      const peer = chosen();
      const link = await ctx.client.shareFile(file.name, SEND_LINK_TTL);
      const destination = new PeerClient({ url: peer.url, token: token.value.trim(), name: peer.name });
      try {
        const meta = await destination.pullFile(target.value.trim(), link.url);
        storePeerToken(peer.url, token.value.trim());
        showInfo(
          `Sent ${file.name} to ${peer.name} as ${meta.name}: ${formatBytes(meta.size)}, SHA-256 ${meta.sha256?.slice(0, 12) ?? "?"}… verified.`,
        );
      } catch (err) {
        if (err instanceof PeerError && err.status === 401) forgetPeerToken(peer.url);
        if (!(err instanceof PeerError)) throw err;
        // A browser reports a CORS refusal as a network error: say what usually causes it.
        const hint =
          err.code === "unreachable"
            ? ` If ${peer.name} is running, it may not allow this page: ${location.origin} must be in its PEERS (or CORS_ORIGINS).`
            : "";
        throw new PeerError(err.code, `${peer.name}: ${err.message}${hint}`, err.status, peer.name);
      }
    },
  });
}
