import type { FileMeta } from "../../client";
import type { AppContext, View } from "../context";
import { formatBytes, formatDate, h, mount, uid } from "../dom";
import {
  type Entry,
  baseName,
  deleteEntries,
  downloadFile,
  downloadZip,
  moveEntries,
  newFolder,
  normalFolder,
  parentOf,
  renameEntry,
  sendEntries,
  shareFile,
} from "./fileActions";
import { replicaMarks } from "../replicas";
import { compareWithPeer, syncToPeer } from "./compare";
import { previewFile } from "./preview";
import { type UploadItem, droppedItems, pickedItems, uploadOne } from "./upload";

/** Rows shown at once: a folder of 10,000 files is paged, never one 10,000-row table. */
export const PAGE_ROWS = 100;
/** Files asked of the peer per listing request (the contract's most). */
const LIST_LIMIT = 1000;
/** Uploads running at once when a folder is dropped. */
const UPLOAD_CONCURRENCY = 3;

const SORTS = [
  { id: "name", label: "Name, A to Z" },
  { id: "-name", label: "Name, Z to A" },
  { id: "-size", label: "Largest first" },
  { id: "size", label: "Smallest first" },
  { id: "-date", label: "Newest first" },
  { id: "date", label: "Oldest first" },
] as const;
type SortId = (typeof SORTS)[number]["id"];

/**
 * Files: one folder level at a time from the peer's delimited listing (a page of up to 1000
 * names per request, more only when the reader pages on or sorts by size or date), breadcrumbs,
 * new folder, upload of files or whole folders into the folder shown, search, selection with
 * bulk delete/move/zip/send, rename/move, preview.
 */
export function filesView(ctx: AppContext): View {
  // A token limited to a folder starts in it (a listing above it would be refused).
  let prefix = ctx.scope.prefix.endsWith("/") ? ctx.scope.prefix : "";
  /** Search mode: the term and whether it is limited to the folder shown. */
  let search: { term: string; scope: string } | null = null;
  let entries: Entry[] = [];
  let cursor: string | null = null;
  let scanned = 0;
  let page = 0;
  let sort: SortId = "name";
  let loading = false;
  let inflight: { generation: number; promise: Promise<boolean> } | null = null;
  /** Bumped on every new listing, so an answer to an older one is dropped. */
  let generation = 0;
  const selected = new Map<string, Entry>();
  const replicas = replicaMarks(ctx);

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Folder" });
  const rows = h("tbody", { "data-testid": "file-rows" });
  const summary = h("p", { class: "hint", "aria-live": "polite", "data-testid": "files-summary" });
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads", "data-testid": "uploads" });
  const prev = h("button", { type: "button", onclick: () => void goPage(page - 1) }, "Previous page");
  const next = h("button", { type: "button", onclick: () => void goPage(page + 1) }, "Next page");
  const pageInfo = h("span", { class: "hint", "data-testid": "page-info" });
  const pager = h("div", { class: "pager", hidden: true }, prev, pageInfo, next);
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select every row on this page" });
  const selectionBar = h("div", { class: "selection-bar", hidden: true, role: "region", "aria-label": "Selection" });
  const searchBanner = h("div", { class: "search-banner", hidden: true });

  const picker = h("input", {
    type: "file",
    multiple: true,
    class: "visually-hidden",
    tabindex: -1,
    "aria-hidden": "true",
    "data-testid": "file-picker",
  });
  const folderPicker = h("input", {
    type: "file",
    multiple: true,
    webkitdirectory: true,
    class: "visually-hidden",
    tabindex: -1,
    "aria-hidden": "true",
    "data-testid": "folder-picker",
  });
  for (const input of [picker, folderPicker]) {
    input.addEventListener("change", () => {
      void uploadAll(pickedItems(input.files ?? []));
      input.value = "";
    });
  }
  const folderInput = h("input", { id: "folder", type: "text", placeholder: "e.g. docs/2025", autocomplete: "off", spellcheck: false });
  const sortSelect = h(
    "select",
    { id: uid("sort") },
    SORTS.map((s) => h("option", { value: s.id }, s.label)),
  );
  sortSelect.addEventListener("change", () => {
    sort = sortSelect.value as SortId;
    void goPage(0);
  });
  const searchInput = h("input", {
    id: uid("search"),
    type: "search",
    autocomplete: "off",
    spellcheck: false,
    placeholder: "part of a name",
  });
  const searchScope = h(
    "select",
    { id: uid("scope"), "aria-label": "Search where" },
    h("option", { value: "peer" }, "whole peer"),
    h("option", { value: "folder" }, "this folder"),
  );

  const dropzone = h(
    "div",
    { class: "dropzone", "data-testid": "dropzone" },
    h("p", {}, "Drop files or folders here to upload them into ", h("strong", { class: "target-folder" }, "/"), ", or"),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: () => picker.click() }, "Choose files…"),
      h("button", { type: "button", onclick: () => folderPicker.click() }, "Choose a folder…"),
    ),
    picker,
    folderPicker,
  );
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropzone.classList.add("over");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    if (event.dataTransfer) void droppedItems(event.dataTransfer).then(uploadAll, (err) => ctx.fail(err, "Could not read the drop"));
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
    openFolder(normalFolder(folderInput.value));
  });
  const searchForm = h(
    "form",
    { class: "inline-form", role: "search" },
    h("label", { for: searchInput.id }, "Search names"),
    searchInput,
    searchScope,
    h("button", { type: "submit" }, "Search"),
  );
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const term = searchInput.value.trim();
    if (!term) return openFolder(prefix);
    search = { term, scope: searchScope.value === "folder" ? prefix : "" };
    void reload();
  });

  const element = h(
    "section",
    {
      class: "view",
      "aria-labelledby": "files-title",
      // A scoped token's Files hides what it may not do (styles.css); the peer still decides.
      "data-can-write": String(ctx.scope.ops.has("write")),
      "data-can-delete": String(ctx.scope.ops.has("delete")),
    },
    h(
      "div",
      { class: "view-head" },
      h("h1", { id: "files-title" }, "Files"),
      h("button", { type: "button", onclick: () => void reload() }, "Refresh"),
    ),
    h("section", { class: "card needs-write" }, h("h2", {}, "Upload"), dropzone, uploads),
    h(
      "section",
      { class: "card" },
      h("div", { class: "card-head" }, crumbs, goForm),
      h(
        "div",
        { class: "toolbar" },
        h("button", { type: "button", class: "needs-write", onclick: () => void newFolder(ctx, prefix).then(reloadIf) }, "New folder"),
        h(
          "button",
          { type: "button", onclick: () => void downloadZip(ctx, { prefix }), "aria-label": "Download this folder as a zip" },
          "Zip",
        ),
        h("button", { type: "button", onclick: () => void compareWithPeer(ctx, prefix) }, "Compare with peer…"),
        h("button", { type: "button", onclick: () => void syncToPeer(ctx, prefix) }, "Sync to peer…"),
        h("label", { for: sortSelect.id }, "Sort"),
        sortSelect,
        searchForm,
      ),
      searchBanner,
      selectionBar,
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
            h("th", { scope: "col", class: "select" }, selectAll),
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col", class: "num" }, "Size"),
            h("th", { scope: "col" }, "Uploaded"),
            h("th", { scope: "col" }, "SHA-256"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        rows,
      ),
      pager,
    ),
  );
  selectAll.addEventListener("change", () => {
    for (const entry of visible()) {
      if (selectAll.checked) selected.set(entry.name, entry);
      else selected.delete(entry.name);
    }
    render();
  });

  /** After a dialog: list again only when it changed something. */
  function reloadIf(changed: boolean): void {
    if (changed) void reload();
  }

  function openFolder(path: string): void {
    prefix = path;
    search = null;
    searchInput.value = "";
    folderInput.value = prefix.replace(/\/$/, "");
    void reload();
  }

  /** Starts the listing (or search) over: the first page only. */
  async function reload(): Promise<void> {
    generation++;
    entries = [];
    cursor = null;
    scanned = 0;
    page = 0;
    selected.clear();
    void replicas.load(search ? null : prefix).then(() => replicas.decorate(rows));
    await fetchMore(true);
    await goPage(0);
  }

  /**
   * One more page from the peer; resolves false when there is nothing more (or a newer listing
   * began). A call while a page is on its way waits for that one: two requests with the same
   * cursor would list the same names twice (quick "Next page" presses do that).
   */
  function fetchMore(first = false): Promise<boolean> {
    if (inflight?.generation === generation) return inflight.promise;
    if (!first && !cursor) return Promise.resolve(false);
    const promise = fetchPage().finally(() => {
      if (inflight?.promise === promise) inflight = null;
    });
    inflight = { generation, promise };
    return promise;
  }

  async function fetchPage(): Promise<boolean> {
    const mine = generation;
    loading = true;
    try {
      if (search) {
        const found = await ctx.client.searchFiles({
          search: search.term,
          prefix: search.scope,
          cursor: cursor ?? undefined,
          limit: LIST_LIMIT,
        });
        if (mine !== generation) return false;
        entries.push(...found.files.map((file): Entry => ({ kind: "file", name: file.name, file })));
        scanned += found.scanned;
        cursor = found.cursor;
      } else {
        const listed = await ctx.client.listFiles({ prefix, delimiter: "/", cursor: cursor ?? undefined, limit: LIST_LIMIT });
        if (mine !== generation) return false;
        for (const folder of listed.folders ?? []) entries.push({ kind: "folder", name: folder });
        for (const file of listed.files) entries.push({ kind: "file", name: file.name, file });
        cursor = listed.cursor;
      }
      return true;
    } catch (err) {
      cursor = null;
      ctx.fail(err, search ? "Could not search" : "Could not list the files");
      return false;
    } finally {
      loading = false;
    }
  }

  /**
   * Shows page `n`. By name (A to Z, the peer's order) only as many listing or search pages are
   * fetched as the rows need; any other order needs the whole level (or every match) first.
   */
  async function goPage(n: number): Promise<void> {
    const mine = generation;
    page = Math.max(0, n);
    const need = sort === "name" ? (page + 1) * PAGE_ROWS + 1 : Number.POSITIVE_INFINITY;
    while (cursor && entries.length < need && mine === generation) {
      summary.textContent = `Loading… ${entries.length} so far.`;
      if (!(await fetchMore())) break;
    }
    if (mine !== generation) return;
    render();
  }

  function sorted(): Entry[] {
    const by = sort.replace("-", "");
    const dir = sort.startsWith("-") ? -1 : 1;
    const key = (e: Entry): number | string =>
      e.kind === "folder" ? e.name : by === "size" ? e.file.size : by === "date" ? Date.parse(e.file.uploaded) : e.name;
    return [...entries].sort((a, b) => {
      // Folders first, by name, whatever the order of the files.
      if (a.kind !== b.kind) return a.kind === "folder" ? -1 : 1;
      const ka = key(a);
      const kb = key(b);
      const order =
        typeof ka === "number" && typeof kb === "number" ? ka - kb : String(ka) < String(kb) ? -1 : String(ka) > String(kb) ? 1 : 0;
      return a.kind === "folder" && by !== "name" ? order : order * dir;
    });
  }

  function visible(): Entry[] {
    return sorted().slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS);
  }

  function render(): void {
    const parts = prefix.split("/").filter(Boolean);
    mount(
      crumbs,
      h("button", { type: "button", class: "link", onclick: () => openFolder("") }, "All files"),
      parts.map((part, i) => [
        h("span", { class: "sep", "aria-hidden": "true" }, "/"),
        i === parts.length - 1 && !search
          ? h("span", { "aria-current": "location" }, part)
          : h("button", { type: "button", class: "link", onclick: () => openFolder(`${parts.slice(0, i + 1).join("/")}/`) }, part),
      ]),
    );
    for (const target of element.querySelectorAll(".target-folder")) target.textContent = `/${prefix}`;

    searchBanner.hidden = !search;
    if (search)
      mount(
        searchBanner,
        h("span", {}, `Names containing “${search.term}” ${search.scope ? `under /${search.scope}` : "anywhere on this peer"}`),
        h("button", { type: "button", onclick: () => openFolder(prefix) }, "Back to the folder"),
      );

    const shown = visible();
    mount(
      rows,
      shown.map((entry) => (entry.kind === "folder" ? folderRow(entry.name) : fileRow(entry.file))),
    );
    replicas.decorate(rows);
    if (!shown.length) {
      const empty = search ? "No name matches." : prefix ? "No files in this folder." : "No files yet: upload one above.";
      mount(rows, h("tr", {}, h("td", { colspan: 6, class: "empty" }, loading ? "Loading…" : empty)));
    }
    selectAll.checked = shown.length > 0 && shown.every((e) => selected.has(e.name));

    const folders = entries.filter((e) => e.kind === "folder").length;
    const files = entries.length - folders;
    const bytes = entries.reduce((n, e) => n + (e.kind === "file" ? e.file.size : 0), 0);
    const more = cursor ? " so far" : "";
    summary.textContent = search
      ? `${files} match${files === 1 ? "" : "es"}${more} (${scanned} names scanned).`
      : `${folders} folder${folders === 1 ? "" : "s"} and ${files} file${files === 1 ? "" : "s"} in /${prefix}, ${formatBytes(bytes)}${more}.`;

    const first = page * PAGE_ROWS;
    pager.hidden = page === 0 && entries.length <= PAGE_ROWS && !cursor;
    prev.disabled = page === 0;
    next.disabled = first + PAGE_ROWS >= entries.length && !cursor;
    pageInfo.textContent =
      !shown.length && cursor
        ? "Loading…"
        : `Rows ${shown.length ? first + 1 : 0}–${first + shown.length} of ${entries.length}${cursor ? "+" : ""}`;
    renderSelection();
  }

  function renderSelection(): void {
    const chosen = [...selected.values()];
    selectionBar.hidden = chosen.length === 0;
    if (!chosen.length) return;
    mount(
      selectionBar,
      h("strong", { "data-testid": "selected-count" }, `${chosen.length} selected`),
      h(
        "button",
        { type: "button", class: "danger needs-delete", onclick: () => void deleteEntries(ctx, chosen).then(reloadIf) },
        "Delete selected",
      ),
      h(
        "button",
        { type: "button", class: "needs-write needs-delete", onclick: () => void moveEntries(ctx, chosen, prefix).then(reloadIf) },
        "Move selected to…",
      ),
      h(
        "button",
        { type: "button", onclick: () => void downloadZip(ctx, { names: chosen.map((e) => e.name) }) },
        "Download selected as zip",
      ),
      h(
        "button",
        { type: "button", onclick: () => void sendEntries(ctx, chosen, search ? search.scope : prefix) },
        "Send selected to a peer",
      ),
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          onclick: () => {
            selected.clear();
            render();
          },
        },
        "Clear selection",
      ),
    );
  }

  function selectBox(entry: Entry): HTMLTableCellElement {
    const box = h("input", { type: "checkbox", checked: selected.has(entry.name), "aria-label": `Select ${entry.name}` });
    box.addEventListener("change", () => {
      if (box.checked) selected.set(entry.name, entry);
      else selected.delete(entry.name);
      selectAll.checked = visible().every((e) => selected.has(e.name));
      renderSelection();
    });
    return h("td", { class: "select" }, box);
  }

  function folderRow(path: string): HTMLTableRowElement {
    const entry: Entry = { kind: "folder", name: path };
    const label = baseName(path);
    return h(
      "tr",
      { class: "folder", "data-folder": label.slice(0, -1), "data-path": path },
      selectBox(entry),
      h("td", { "data-label": "Folder" }, h("button", { type: "button", class: "link", onclick: () => openFolder(path) }, label)),
      h("td", { class: "num" }),
      h("td", {}),
      h("td", {}),
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          { type: "button", "aria-label": `Download ${path} as a zip`, onclick: () => void downloadZip(ctx, { prefix: path }) },
          "Zip",
        ),
        h(
          "button",
          {
            type: "button",
            class: "needs-write needs-delete",
            "aria-label": `Rename or move ${path}`,
            onclick: () => void renameEntry(ctx, entry).then(reloadIf),
          },
          "Rename",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger needs-delete",
            "aria-label": `Delete folder ${path}`,
            onclick: () => void deleteEntries(ctx, [entry]).then(reloadIf),
          },
          "Delete",
        ),
      ),
    );
  }

  function fileRow(file: FileMeta): HTMLTableRowElement {
    const entry: Entry = { kind: "file", name: file.name, file };
    // In a folder a row shows the file's own name; a search result shows its whole path.
    const shownName = search ? file.name : file.name.slice(prefix.length);
    return h(
      "tr",
      { "data-file": file.name },
      selectBox(entry),
      h(
        "td",
        { "data-label": "Name" },
        h(
          "button",
          { type: "button", class: "link file-name", "aria-label": `Preview ${file.name}`, onclick: () => void previewFile(ctx, file) },
          shownName,
        ),
        search
          ? h(
              "button",
              {
                type: "button",
                class: "ghost small",
                "aria-label": `Open the folder of ${file.name}`,
                onclick: () => openFolder(parentOf(file.name)),
              },
              "Open folder",
            )
          : null,
      ),
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
        h(
          "button",
          {
            type: "button",
            "aria-label": `Send ${file.name} to a peer`,
            onclick: () => void sendEntries(ctx, [entry], parentOf(file.name)),
          },
          "Send",
        ),
        h(
          "button",
          {
            type: "button",
            class: "needs-write needs-delete",
            "aria-label": `Rename or move ${file.name}`,
            onclick: () => void renameEntry(ctx, entry).then(reloadIf),
          },
          "Rename",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger needs-delete",
            "aria-label": `Delete ${file.name}`,
            onclick: () => void deleteEntries(ctx, [entry]).then(() => reload()),
          },
          "Delete",
        ),
      ),
    );
  }

  /** Uploads into the folder shown, a few at a time; a folder's files keep their relative paths. */
  async function uploadAll(items: UploadItem[]): Promise<void> {
    const into = prefix;
    const queue = [...items];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) await uploadOne(ctx, uploads, into + item.relative, item.file);
    };
    await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, queue.length) }, worker));
    if (items.length && into === prefix && !search) await reload();
  }

  void reload();
  return { element };
}
