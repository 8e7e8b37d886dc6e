import type { PeerEnv } from "../env";
import { copyFile, copyFolder, moveFile } from "./copy";
import type { FileStore } from "./files";
import { type FolderStore, type Quota, folderPathOf, markerOf } from "./folders";
import { fileStore, folderStore } from "./fileStore";
import { MAX_FILE_NAME_BYTES, utf8Length } from "./names";
import { fileQuota } from "./quota";

/**
 * The bucket seen as a tree, for WebDAV: a folder `a/b` exists when its zero-byte marker
 * `a/b/` does (the API's convention) or when any name starts with `a/b/`; a file is any other
 * object. A name that is both a file and a folder is shown as the file.
 */

/** One resource as PROPFIND describes it. */
export type DavEntry =
  | { kind: "file"; name: string; size: number; etag: string; modified: Date; contentType: string }
  | { kind: "folder"; name: string; modified: Date | null };

const prefixOf = (name: string) => (name === "" ? "" : `${name}/`);
/** Whether folder `name`'s marker fits R2's key limit (a longer name has nothing under it either). */
const canBeFolder = (name: string) => utf8Length(markerOf(name)) <= MAX_FILE_NAME_BYTES;

function fileEntry(object: R2Object): DavEntry {
  return {
    kind: "file",
    name: object.key,
    size: object.size,
    etag: object.httpEtag,
    modified: object.uploaded,
    contentType: object.httpMetadata?.contentType ?? "application/octet-stream",
  };
}

export class DavTree {
  readonly files: FileStore;
  private readonly folders: FolderStore;
  private readonly bucket: R2Bucket;
  private readonly quota: Quota;

  constructor(env: PeerEnv) {
    this.bucket = env.FILES;
    this.files = fileStore(env);
    this.folders = folderStore(env, this.files);
    this.quota = fileQuota(env, this.files);
  }

  /** The file or folder `name` stands for, or null. */
  async stat(name: string): Promise<DavEntry | null> {
    if (name === "") return { kind: "folder", name, modified: null };
    // A 1024-byte name can be a file but not a folder: its marker would pass R2's key limit.
    if (!canBeFolder(name)) {
      const file = await this.bucket.head(name);
      return file ? fileEntry(file) : null;
    }
    const [file, marker, under] = await Promise.all([
      this.bucket.head(name),
      this.bucket.head(markerOf(name)),
      this.bucket.list({ prefix: markerOf(name), limit: 1 }),
    ]);
    if (file) return fileEntry(file);
    if (marker) return { kind: "folder", name, modified: marker.uploaded };
    if (under.objects.length > 0) return { kind: "folder", name, modified: null };
    return null;
  }

  /** Whether folder `name` exists (the root always does). */
  async folderExists(name: string): Promise<boolean> {
    return (await this.stat(name))?.kind === "folder";
  }

  /** The members of folder `name`, a listing page at a time (markers shown as folders). */
  async *children(name: string): AsyncGenerator<DavEntry[]> {
    const prefix = prefixOf(name);
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, delimiter: "/", cursor, limit: 1000, include: ["httpMetadata"] });
      const entries: DavEntry[] = [];
      for (const object of page.objects) if (object.key !== prefix) entries.push(fileEntry(object));
      for (const folder of page.delimitedPrefixes) entries.push({ kind: "folder", name: folder.slice(0, -1), modified: null });
      yield entries;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  /** Creates folder `name`'s marker. */
  async makeFolder(name: string): Promise<void> {
    await this.folders.putMarker(folderPathOf(name));
  }

  /**
   * Copies file `from` to `to`, or a folder: its marker, then (when `deep`) every object under
   * it, with the API's own copy (streamed, multipart past 4.9 GiB, SHA-256 verified, quota).
   */
  async copy(from: DavEntry, to: string, deep: boolean): Promise<void> {
    if (from.kind === "file") {
      await copyFile(this.files, from.name, to, { overwrite: true, quota: this.quota });
      return;
    }
    await this.makeFolder(to);
    if (deep) await copyFolder(this.files, this.folders, from.name, to, { overwrite: true, quota: this.quota });
  }

  /** Moves a file or a whole folder: every copy whole first, then the sources that did not change meanwhile. */
  async move(from: DavEntry, to: string): Promise<void> {
    if (from.kind === "file") {
      await moveFile(this.files, from.name, to, { overwrite: true, quota: this.quota });
      return;
    }
    await this.makeFolder(to);
    await copyFolder(this.files, this.folders, from.name, to, { overwrite: true, move: true, quota: this.quota });
  }

  /** Deletes a file, or a folder with everything under it (1000 objects per R2 call), inside the quota. */
  async remove(entry: DavEntry): Promise<void> {
    if (entry.kind === "file") {
      await this.quota.change([entry.name], 0, () => this.files.delete(entry.name));
      return;
    }
    await this.folders.remove(entry.name, true, this.quota);
  }
}
