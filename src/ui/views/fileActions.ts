import type { FileMeta, PeerClient, PeerRef, ShareLink } from "../../client";
import type { AppContext } from "../context";
import { confirmDanger, openDialog } from "../dialog";
import { formatBytes, formatDate, h, uid } from "../dom";
import { showInfo } from "../messages";
import { otherPeers, peerPicker } from "../peers";

/** How long a download's signed link lives: only until the browser has started. */
const DOWNLOAD_LINK_TTL = 300;
/** Long enough for the destination to pull a large file. */
const SEND_LINK_TTL = 3600;
/** A folder delete counts at most this many files before asking (the count says "more than"). */
const COUNT_LIMIT = 100_000;
const SHARE_TTLS = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "1 day" },
  { seconds: 604800, label: "7 days" },
];

/** One row of the Files view: a file, or a folder (its path ends in `/`). */
export type Entry = { kind: "file"; name: string; file: FileMeta } | { kind: "folder"; name: string };

/** The last segment of a file name or folder path (a folder's keeps its `/`). */
export function baseName(name: string): string {
  const bare = name.endsWith("/") ? name.slice(0, -1) : name;
  const base = bare.slice(bare.lastIndexOf("/") + 1);
  return name.endsWith("/") ? `${base}/` : base;
}

/** The folder a name is in, with its trailing `/` ("" at the top). */
export function parentOf(name: string): string {
  const bare = name.endsWith("/") ? name.slice(0, -1) : name;
  return bare.slice(0, bare.lastIndexOf("/") + 1);
}

/** `"docs/2025"` or `"/docs/2025/"` → `"docs/2025/"`; `""` → `""` (the top). */
export function normalFolder(path: string): string {
  const bare = path.trim().replace(/^\/+|\/+$/g, "");
  return bare ? `${bare}/` : "";
}

/** Downloads through a short-lived signed link the browser streams to disk: no file is held in memory. */
export async function downloadFile(ctx: AppContext, file: FileMeta): Promise<void> {
  try {
    const link = await ctx.client.shareFile(file.name, DOWNLOAD_LINK_TTL);
    const url = new URL(link.url);
    url.searchParams.set("download", "1");
    clickLink(url.href, baseName(file.name));
  } catch (err) {
    ctx.fail(err, `Could not download ${file.name}`);
  }
}

function clickLink(href: string, filename: string): void {
  const a = h("a", { href, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Downloads a zip of folders and files. The zip route needs the token in a header, so the
 * page reads the stream into a Blob (Chromium keeps large blobs on disk) and saves that.
 */
export async function downloadZip(ctx: AppContext, selection: { prefix: string } | { names: string[] }): Promise<void> {
  const what = "prefix" in selection ? `/${selection.prefix}` : `${selection.names.length} item${selection.names.length === 1 ? "" : "s"}`;
  try {
    showInfo(`Preparing the zip of ${what}…`);
    const zip = await ctx.client.zip(selection);
    const blob = await new Response(zip.body).blob();
    const url = URL.createObjectURL(new Blob([blob], { type: "application/zip" }));
    clickLink(url, zip.filename);
    // The download has its own reference by now; free the page's one a little later.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    showInfo(`Downloading ${zip.filename} (${formatBytes(zip.size)}).`);
  } catch (err) {
    ctx.fail(err, `Could not download ${what} as a zip`);
  }
}

/**
 * A dialog with a signed link to copy, valid for a chosen time, optionally with a password
 * (the browser asks for it: HTTP Basic) and a download cap. A link replaced in the dialog
 * before it was copied is revoked, so only links that were handed out stay live.
 */
export async function shareFile(ctx: AppContext, file: FileMeta): Promise<void> {
  const output = h("input", { type: "text", readonly: true, class: "mono", "aria-label": "Share link", "data-testid": "share-link" });
  const expires = h("p", { class: "hint", "data-testid": "share-terms" });
  const ttl = h(
    "select",
    { id: uid("ttl") },
    SHARE_TTLS.map((t) => h("option", { value: t.seconds }, t.label)),
  );
  const password = h("input", { id: uid("password"), type: "password", autocomplete: "new-password", spellcheck: false });
  const maxDownloads = h("input", { id: uid("max"), type: "number", min: 1, step: 1, inputMode: "numeric", placeholder: "no limit" });
  const remake = h("button", { type: "button" }, "Make a new link");
  const copy = h("button", { type: "button", class: "primary" }, "Copy");
  let current: ShareLink | null = null;
  let handedOut = false;
  const make = async () => {
    const cap = maxDownloads.value.trim() ? Number(maxDownloads.value) : undefined;
    const secret = password.value;
    try {
      const link = await ctx.client.shareFile(file.name, { ttl: Number(ttl.value), password: secret || undefined, maxDownloads: cap });
      const replaced = current;
      current = link;
      output.value = link.url;
      copy.textContent = "Copy";
      const limits = [secret ? "with the password" : "", cap ? `at most ${cap} download${cap === 1 ? "" : "s"}` : ""].filter(Boolean);
      expires.textContent = `Anyone with this link${limits.length ? ` (${limits.join(", ")})` : ""} can download ${file.name} until ${formatDate(link.expires)}, without a token.`;
      if (replaced && !handedOut) await ctx.client.revokeShare(replaced.id);
      handedOut = false;
    } catch (err) {
      ctx.fail(err, `Could not make a link for ${file.name}`);
    }
  };
  output.addEventListener("copy", () => {
    handedOut = true;
  });
  copy.addEventListener("click", async () => {
    handedOut = true;
    output.select();
    try {
      await navigator.clipboard.writeText(output.value);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Press Ctrl+C";
    }
  });
  ttl.addEventListener("change", () => void make());
  remake.addEventListener("click", () => void make());
  await make();
  if (!output.value) return;
  void openDialog({
    title: `Share ${file.name}`,
    body: [
      h("label", { for: ttl.id }, "Valid for"),
      ttl,
      h("label", { for: password.id }, "Password (optional)"),
      password,
      h("label", { for: maxDownloads.id }, "Most downloads (optional)"),
      maxDownloads,
      h(
        "div",
        { class: "actions" },
        remake,
        h("span", { class: "hint" }, "It replaces the link below, which is revoked unless it was copied."),
      ),
      h("div", { class: "inline-form" }, output, copy),
      expires,
    ],
  });
}

/** How many files (and bytes) are under a folder, counting up to `COUNT_LIMIT`. */
export async function countFolder(client: PeerClient, path: string): Promise<{ files: number; bytes: number; more: boolean }> {
  let files = 0;
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const page = await client.listFiles({ prefix: path, cursor, limit: 1000 });
    files += page.files.length;
    for (const f of page.files) bytes += f.size;
    cursor = page.cursor ?? undefined;
  } while (cursor && files < COUNT_LIMIT);
  return { files, bytes, more: Boolean(cursor) };
}

/** "3 files (1.2 MiB)", "more than 100000 files", "no files". */
function describeCount(count: { files: number; bytes: number; more: boolean }): string {
  if (count.more) return `more than ${count.files} files`;
  if (!count.files) return "no files";
  return `${count.files} file${count.files === 1 ? "" : "s"} (${formatBytes(count.bytes)})`;
}

/**
 * Deletes files and folders after one confirmation that says how many files go: a folder's
 * are counted first, then it goes with `recursive=true`. Resolves true when anything was deleted.
 */
export async function deleteEntries(ctx: AppContext, entries: Entry[]): Promise<boolean> {
  const folders = entries.filter((e) => e.kind === "folder");
  const files = entries.flatMap((e) => (e.kind === "file" ? [e.file] : []));
  let counts: { files: number; bytes: number; more: boolean }[];
  try {
    counts = await Promise.all(folders.map((f) => countFolder(ctx.client, f.name)));
  } catch (err) {
    ctx.fail(err, "Could not count the files to delete");
    return false;
  }
  const total = {
    files: files.length + counts.reduce((n, c) => n + c.files, 0),
    bytes: files.reduce((n, f) => n + f.size, 0) + counts.reduce((n, c) => n + c.bytes, 0),
    more: counts.some((c) => c.more),
  };
  const single = entries.length === 1 ? entries[0] : undefined;
  const title = single ? `Delete ${single.kind === "folder" ? "folder " : ""}${single.name}?` : `Delete ${entries.length} items?`;
  const text =
    single?.kind === "file"
      ? `${single.name} (${formatBytes(single.file.size)}) will be deleted from ${ctx.peerName}. This cannot be undone.`
      : `${describeCount(total)} will be deleted from ${ctx.peerName}${folders.length ? `, with ${folders.length === 1 ? "the folder" : `${folders.length} folders`}` : ""}. This cannot be undone.`;
  if (!(await confirmDanger(title, text, "Delete"))) return false;
  let deleted = 0;
  try {
    for (const file of files) {
      await ctx.client.deleteFile(file.name);
      deleted++;
    }
    for (const folder of folders) deleted += await ctx.client.deleteFolder(folder.name, { recursive: true });
    showInfo(single?.kind === "file" ? `Deleted ${single.name}.` : `Deleted ${deleted} file${deleted === 1 ? "" : "s"}.`);
  } catch (err) {
    ctx.fail(err, single ? `Could not delete ${single.name}` : `Deleted ${deleted} files, then failed`);
  }
  return true;
}

/** Renames or moves one file or folder to a full new name typed in a dialog. */
export async function renameEntry(ctx: AppContext, entry: Entry): Promise<boolean> {
  const input = h("input", { id: uid("to"), type: "text", value: entry.name, required: true, spellcheck: false, autocomplete: "off" });
  const overwrite = h("input", { id: uid("overwrite"), type: "checkbox" });
  const folder = entry.kind === "folder";
  return openDialog({
    title: `Rename or move ${entry.name}`,
    body: [
      h(
        "p",
        { class: "hint" },
        folder
          ? "Every file under the folder is copied to the new path on the peer, then the old ones go."
          : "The file is copied on the peer (its SHA-256 kept), then the old name goes.",
      ),
      h("label", { for: input.id }, "New name (with its folders)"),
      input,
      h("div", { class: "checkbox" }, overwrite, h("label", { for: overwrite.id }, "Replace what is already there")),
    ],
    confirm: folder ? "Move folder" : "Move",
    onConfirm: async () => {
      const to = input.value.trim().replace(/^\/+/, "");
      if (folder) {
        const moved = await ctx.client.moveFolder(entry.name, normalFolder(to), { overwrite: overwrite.checked });
        showInfo(`Moved ${entry.name} to ${normalFolder(to)}: ${moved.files} file${moved.files === 1 ? "" : "s"}.`);
      } else {
        const meta = await ctx.client.moveFile(entry.name, to, { overwrite: overwrite.checked });
        showInfo(`Moved ${entry.name} to ${meta.name}.`);
      }
    },
  });
}

/** Moves several files and folders into one folder, each keeping its own name. */
export async function moveEntries(ctx: AppContext, entries: Entry[], current: string): Promise<boolean> {
  const input = h("input", { id: uid("dest"), type: "text", value: current, spellcheck: false, autocomplete: "off", placeholder: "top" });
  const overwrite = h("input", { id: uid("overwrite"), type: "checkbox" });
  return openDialog({
    title: `Move ${entries.length} item${entries.length === 1 ? "" : "s"}`,
    body: [
      h("label", { for: input.id }, "Destination folder"),
      input,
      h("p", { class: "hint" }, "Leave empty for the top. The folder is made if it does not exist."),
      h("div", { class: "checkbox" }, overwrite, h("label", { for: overwrite.id }, "Replace what is already there")),
    ],
    confirm: "Move",
    onConfirm: async () => {
      const dest = normalFolder(input.value);
      let files = 0;
      for (const entry of entries) {
        const to = dest + baseName(entry.name);
        if (to === entry.name) continue;
        if (entry.kind === "folder") files += (await ctx.client.moveFolder(entry.name, to, { overwrite: overwrite.checked })).files;
        else {
          await ctx.client.moveFile(entry.name, to, { overwrite: overwrite.checked });
          files++;
        }
      }
      showInfo(`Moved ${files} file${files === 1 ? "" : "s"} to /${dest}.`);
    },
  });
}

/** Asks for a name and makes an empty folder under `parent`. */
export async function newFolder(ctx: AppContext, parent: string): Promise<boolean> {
  const input = h("input", { id: uid("folder-name"), type: "text", required: true, spellcheck: false, autocomplete: "off" });
  return openDialog({
    title: `New folder in /${parent}`,
    body: [h("label", { for: input.id }, "Folder name"), input],
    confirm: "Create",
    onConfirm: async () => {
      const made = await ctx.client.createFolder(parent + normalFolder(input.value));
      showInfo(`Created ${made.path}.`);
    },
  });
}

/** Every file an entry stands for: the file, or each file under the folder. */
async function expand(client: PeerClient, entry: Entry): Promise<FileMeta[]> {
  if (entry.kind === "file") return [entry.file];
  const all: FileMeta[] = [];
  for await (const file of client.allFiles(entry.name)) all.push(file);
  return all;
}

/**
 * "Send to peer": this peer signs a link per file, the destination (asked with its own
 * token, typed here and kept for the tab) pulls each and verifies its SHA-256. No byte
 * passes the browser. One file may be renamed there; several keep their paths relative to
 * `base` (the folder shown) under a destination folder.
 */
export async function sendEntries(ctx: AppContext, entries: Entry[], base: string): Promise<void> {
  let known: PeerRef[];
  try {
    known = await otherPeers(ctx);
  } catch (err) {
    return ctx.fail(err, "Could not read the known peers");
  }
  if (!known.length) {
    showInfo("This peer knows no other peer (its PEERS var is empty), so there is nowhere to send to.");
    return;
  }
  const single = entries.length === 1 && entries[0]?.kind === "file" ? entries[0] : undefined;
  const what = single ? single.name : `${entries.length} item${entries.length === 1 ? "" : "s"}`;
  const picker = peerPicker(known);
  const target = h("input", {
    id: uid("name"),
    type: "text",
    value: single ? single.name : base,
    required: Boolean(single),
    spellcheck: false,
  });

  await openDialog({
    title: `Send ${what} to another peer`,
    body: [
      h(
        "p",
        { class: "hint" },
        "This peer signs a link to each file; the destination pulls it and checks its SHA-256. The destination's token is needed to ask it, and is kept for this tab only.",
      ),
      ...picker.fields,
      h("label", { for: target.id }, single ? "Name there" : "Folder there"),
      target,
    ],
    confirm: "Send",
    onConfirm: async () => {
      const peer = picker.peer();
      const destination = picker.client();
      const files = (await Promise.all(entries.map((e) => expand(ctx.client, e)))).flat();
      const folderThere = normalFolder(target.value);
      let bytes = 0;
      let last: FileMeta | undefined;
      try {
        for (const file of files) {
          const link = await ctx.client.shareFile(file.name, SEND_LINK_TTL);
          const there = single
            ? target.value.trim()
            : folderThere + (file.name.startsWith(base) ? file.name.slice(base.length) : baseName(file.name));
          last = await destination.pullFile(there, link.url);
          bytes += last.size;
        }
        picker.remember();
      } catch (err) {
        throw picker.explain(err);
      }
      if (single && last)
        showInfo(
          `Sent ${single.name} to ${peer.name} as ${last.name}: ${formatBytes(last.size)}, SHA-256 ${last.sha256?.slice(0, 12) ?? "?"}… verified.`,
        );
      else
        showInfo(
          `Sent ${files.length} file${files.length === 1 ? "" : "s"} (${formatBytes(bytes)}) to ${peer.name} under /${folderThere}, each SHA-256 verified.`,
        );
    },
  });
}
