import { PeerClient } from "../../client";
import { progressFetch } from "../../client/browser-upload";
import type { AppContext } from "../context";
import { formatBytes, h } from "../dom";

/** A file to upload and the name it gets under the folder shown (a folder's keeps its relative path). */
export interface UploadItem {
  file: File;
  relative: string;
}

/** The files a picker chose: with `webkitdirectory`, each keeps its path inside the chosen folder. */
export function pickedItems(files: Iterable<File>): UploadItem[] {
  return [...files].map((file) => ({ file, relative: file.webkitRelativePath || file.name }));
}

/** The files of a drop, walking into dropped folders so each keeps its relative path. */
export async function droppedItems(transfer: DataTransfer): Promise<UploadItem[]> {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.() ?? null);
  if (!entries.length || entries.some((e) => e === null)) return pickedItems(transfer.files);
  const out: UploadItem[] = [];
  for (const entry of entries) if (entry) await walk(entry, out);
  return out;
}

async function walk(entry: FileSystemEntry, out: UploadItem[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, relative: entry.fullPath.replace(/^\/+/, "") || file.name });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches (100 in Chromium) until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const child of batch) await walk(child, out);
  }
}

/**
 * Uploads one file with a progress row in `list`: one PUT, or multipart above the client's
 * threshold; Cancel aborts it (a multipart upload is aborted on the peer too).
 */
export async function uploadOne(ctx: AppContext, list: HTMLElement, name: string, file: File): Promise<boolean> {
  const bar = h("progress", { max: Math.max(file.size, 1), value: 0, "aria-label": `Upload of ${name}` });
  const status = h("span", { class: "upload-status" }, "starting…");
  const stop = new AbortController();
  const cancel = h(
    "button",
    { type: "button", class: "ghost", "aria-label": `Cancel the upload of ${name}`, onclick: () => stop.abort() },
    "Cancel",
  );
  const item = h(
    "li",
    { class: "upload", "data-upload": name, "data-state": "running" },
    h("span", { class: "file-name" }, name),
    bar,
    status,
    cancel,
  );
  list.prepend(item);

  let sent = 0;
  const show = () => {
    const done = Math.min(sent, file.size);
    bar.value = done;
    const percent = file.size ? Math.floor((done / file.size) * 100) : 100;
    status.textContent = `${formatBytes(done)} of ${formatBytes(file.size)} · ${percent}%`;
    item.dataset.sent = String(done);
  };
  const client = new PeerClient({
    url: ctx.client.url,
    token: ctx.token,
    name: ctx.peerName,
    fetch: progressFetch((n) => {
      sent += n;
      show();
    }),
  });
  try {
    const multipart = file.size > client.multipartThreshold;
    if (multipart) status.textContent = "starting a multipart upload…";
    const meta = await client.upload(name, file, { contentType: file.type || undefined, signal: stop.signal });
    sent = file.size;
    show();
    item.dataset.state = "done";
    status.textContent = `uploaded ${formatBytes(meta.size)}${multipart ? " in parts" : ""} · SHA-256 ${meta.sha256?.slice(0, 12) ?? "?"}…`;
    return true;
  } catch (err) {
    if (stop.signal.aborted) {
      item.dataset.state = "cancelled";
      status.textContent = "cancelled";
      return false;
    }
    item.dataset.state = "failed";
    status.textContent = "failed";
    ctx.fail(err, `Upload of ${name} failed`);
    return false;
  } finally {
    cancel.remove();
  }
}
