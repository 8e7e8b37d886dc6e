import { type FileMeta, PeerClient } from "../../client";
import { progressFetch } from "../../client/browser-upload";
import type { AppContext, View } from "../context";
import { confirmDanger } from "../dialog";
import { formatBytes, formatDate, h, mount } from "../dom";
import { showInfo } from "../messages";
import { downloadFile, sendFile, shareFile } from "./fileActions";

const PAGE_SIZE = 200;

/** Files: a folder-aware list, upload (picker or drop) with progress, download, share, send, delete. */
export function filesView(ctx: AppContext): View {
  // A token limited to a folder starts in it (a listing above it would be refused).
  let prefix = ctx.scope.prefix.endsWith("/") ? ctx.scope.prefix : "";
  let files: FileMeta[] = [];
  let cursor: string | null = null;

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Folder" });
  const rows = h("tbody", { "data-testid": "file-rows" });
  const more = h("button", { type: "button", hidden: true, onclick: () => void loadPage(false) }, "Load more");
  const summary = h("p", { class: "hint", "aria-live": "polite" });
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads", "data-testid": "uploads" });
  const picker = h("input", {
    type: "file",
    multiple: true,
    class: "visually-hidden",
    tabindex: -1,
    "aria-hidden": "true",
    "data-testid": "file-picker",
  });
  const folderInput = h("input", { id: "folder", type: "text", placeholder: "e.g. docs/2025", autocomplete: "off", spellcheck: false });

  picker.addEventListener("change", () => {
    uploadAll([...(picker.files ?? [])]);
    picker.value = "";
  });

  const dropzone = h(
    "div",
    { class: "dropzone", "data-testid": "dropzone" },
    h("p", {}, "Drop files here to upload them into ", h("strong", { class: "target-folder" }, "/"), ", or"),
    h("button", { type: "button", class: "primary", onclick: () => picker.click() }, "Choose files…"),
    picker,
  );
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropzone.classList.add("over");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    uploadAll([...(event.dataTransfer?.files ?? [])]);
  });

  const goForm = h(
    "form",
    { class: "inline-form" },
    h("label", { for: "folder" }, "Open folder"),
    folderInput,
    h("button", { type: "submit" }, "Open"),
  );
  goForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const path = folderInput.value.trim().replace(/^\/+|\/+$/g, "");
    openFolder(path ? `${path}/` : "");
  });

  const element = h(
    "section",
    { class: "view", "aria-labelledby": "files-title" },
    h(
      "div",
      { class: "view-head" },
      h("h1", { id: "files-title" }, "Files"),
      h("button", { type: "button", onclick: () => void loadPage(true) }, "Refresh"),
    ),
    h("section", { class: "card" }, h("h2", {}, "Upload"), dropzone, uploads),
    h(
      "section",
      { class: "card" },
      h("div", { class: "card-head" }, crumbs, goForm),
      summary,
      h(
        "table",
        { class: "table stack files" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col", class: "num" }, "Size"),
            h("th", { scope: "col" }, "Uploaded"),
            h("th", { scope: "col" }, "SHA-256"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        rows,
      ),
      more,
    ),
  );

  function openFolder(path: string): void {
    prefix = path;
    folderInput.value = prefix.replace(/\/$/, "");
    void loadPage(true);
  }

  async function loadPage(fresh: boolean): Promise<void> {
    try {
      const page = await ctx.client.listFiles({ prefix, cursor: fresh ? undefined : (cursor ?? undefined), limit: PAGE_SIZE });
      files = fresh ? page.files : [...files, ...page.files];
      cursor = page.cursor;
      render();
    } catch (err) {
      ctx.fail(err, "Could not list the files");
    }
  }

  function render(): void {
    const parts = prefix.split("/").filter(Boolean);
    mount(
      crumbs,
      h("button", { type: "button", class: "link", onclick: () => openFolder("") }, "All files"),
      parts.map((part, i) => [
        h("span", { class: "sep", "aria-hidden": "true" }, "/"),
        i === parts.length - 1
          ? h("span", { "aria-current": "location" }, part)
          : h("button", { type: "button", class: "link", onclick: () => openFolder(`${parts.slice(0, i + 1).join("/")}/`) }, part),
      ]),
    );
    for (const target of element.querySelectorAll(".target-folder")) target.textContent = `/${prefix}`;

    const folders = new Map<string, { count: number; bytes: number }>();
    const here: FileMeta[] = [];
    for (const file of files) {
      const rest = file.name.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash < 0) {
        here.push(file);
        continue;
      }
      const folder = rest.slice(0, slash);
      const entry = folders.get(folder) ?? { count: 0, bytes: 0 };
      entry.count++;
      entry.bytes += file.size;
      folders.set(folder, entry);
    }

    const folderRows = [...folders].map(([folder, info]) =>
      h(
        "tr",
        { class: "folder", "data-folder": folder },
        h(
          "td",
          { "data-label": "Folder" },
          h("button", { type: "button", class: "link", onclick: () => openFolder(`${prefix}${folder}/`) }, `${folder}/`),
        ),
        h("td", { class: "num", "data-label": "Size" }, formatBytes(info.bytes)),
        h("td", { "data-label": "Contains" }, `${info.count} file${info.count === 1 ? "" : "s"}${cursor ? "+" : ""}`),
        h("td", {}),
        h("td", {}),
      ),
    );
    const fileRows = here.map(fileRow);
    mount(rows, folderRows, fileRows);
    if (!folderRows.length && !fileRows.length) {
      mount(
        rows,
        h("tr", {}, h("td", { colspan: 5, class: "empty" }, prefix ? "No files in this folder." : "No files yet: upload one above.")),
      );
    }
    const total = files.reduce((n, f) => n + f.size, 0);
    summary.textContent = `${files.length} file${files.length === 1 ? "" : "s"} under /${prefix}, ${formatBytes(total)}${cursor ? " so far" : ""}.`;
    more.hidden = !cursor;
  }

  function fileRow(file: FileMeta): HTMLTableRowElement {
    const base = file.name.slice(prefix.length);
    return h(
      "tr",
      { "data-file": file.name },
      h("td", { "data-label": "Name" }, h("span", { class: "file-name" }, base)),
      h("td", { class: "num", "data-label": "Size" }, formatBytes(file.size)),
      h("td", { "data-label": "Uploaded" }, formatDate(file.uploaded)),
      h(
        "td",
        { "data-label": "SHA-256" },
        file.sha256 ? h("code", { class: "hash", title: file.sha256, "data-sha256": file.sha256 }, `${file.sha256.slice(0, 12)}…`) : "—",
      ),
      h(
        "td",
        { class: "actions" },
        h("button", { type: "button", "aria-label": `Download ${file.name}`, onclick: () => void downloadFile(ctx, file) }, "Download"),
        h("button", { type: "button", "aria-label": `Share link for ${file.name}`, onclick: () => void shareFile(ctx, file) }, "Link"),
        h("button", { type: "button", "aria-label": `Send ${file.name} to a peer`, onclick: () => void sendFile(ctx, file) }, "Send"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${file.name}`, onclick: () => void remove(file) }, "Delete"),
      ),
    );
  }

  /** Uploads each file into the open folder: one PUT, or multipart above the client's threshold. */
  function uploadAll(list: File[]): void {
    for (const file of list) void uploadOne(file);
  }

  async function uploadOne(file: File): Promise<void> {
    const name = prefix + file.name;
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
    uploads.prepend(item);

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
      await loadPage(true);
    } catch (err) {
      if (stop.signal.aborted) {
        item.dataset.state = "cancelled";
        status.textContent = "cancelled";
        return;
      }
      item.dataset.state = "failed";
      status.textContent = "failed";
      ctx.fail(err, `Upload of ${name} failed`);
    } finally {
      cancel.remove();
    }
  }

  async function remove(file: FileMeta): Promise<void> {
    const ok = await confirmDanger(
      `Delete ${file.name}?`,
      `${file.name} (${formatBytes(file.size)}) will be deleted from ${ctx.peerName}. This cannot be undone.`,
      "Delete",
    );
    if (!ok) return;
    try {
      await ctx.client.deleteFile(file.name);
      showInfo(`Deleted ${file.name}.`);
    } catch (err) {
      ctx.fail(err, `Could not delete ${file.name}`);
    }
    await loadPage(true);
  }

  void loadPage(true);
  return { element };
}
