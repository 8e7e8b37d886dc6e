import type { PeerEnv } from "../env";
import { HttpError, badRequest } from "../http/errors";
import type { FileMeta, FileStore } from "./files";
import { fileStore } from "./fileStore";
import { MAX_FILE_NAME_BYTES, utf8Length } from "./names";
import { changeFiles } from "./quota";

/**
 * The bucket seen as a tree, for WebDAV: a folder `a/b` exists when its zero-byte marker
 * `a/b/` does (the API's convention) or when any name starts with `a/b/`; a file is any other
 * object. A name that is both a file and a folder is shown as the file.
 */

/** One resource as PROPFIND describes it. */
export type DavEntry =
  | { kind: "file"; name: string; size: number; etag: string; modified: Date; contentType: string }
  | { kind: "folder"; name: string; modified: Date | null };

const FOLDER_MARKER_TYPE = "application/x-directory";

/** The marker object of folder `name` ("" is the root, which has none). */
export const markerOf = (name: string) => `${name}/`;
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
  private readonly bucket: R2Bucket;

  constructor(private readonly env: PeerEnv) {
    this.bucket = env.FILES;
    this.files = fileStore(env);
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

  /** Every object under folder `name`, its marker and the markers of its subfolders included. */
  async *objectsUnder(name: string): AsyncGenerator<R2Object[]> {
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix: prefixOf(name), cursor, limit: 1000, include: ["httpMetadata", "customMetadata"] });
      yield page.objects;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  /** Creates folder `name`'s marker. */
  async makeFolder(name: string): Promise<void> {
    if (!canBeFolder(name)) throw badRequest(`A folder name is at most ${MAX_FILE_NAME_BYTES - 1} bytes: its marker adds a '/'.`);
    await this.bucket.put(markerOf(name), new Uint8Array(0), { httpMetadata: { contentType: FOLDER_MARKER_TYPE } });
  }

  /**
   * Copies one object of `size` bytes, streamed, inside the storage quota, keeping its content
   * type and SHA-256 (R2 verifies the copy against it: byte-identical or not stored).
   */
  async copyObject(from: string, to: string, size: number): Promise<FileMeta | null> {
    return changeFiles(
      this.env,
      this.files,
      { names: [to], bytes: size },
      async () => {
        const source = await this.files.get(from);
        if (!source) return null;
        const { object, sha256 } = source;
        const fixed = new FixedLengthStream(object.size);
        object.body.pipeTo(fixed.writable).catch(() => {});
        return this.files.put(to, fixed.readable, {
          length: object.size,
          sha256: sha256 ?? undefined,
          contentType: object.httpMetadata?.contentType,
        });
      },
      (copied) => copied?.size ?? 0,
    );
  }

  /** Copies file `from` to `to` (a folder: its marker, then every object under it when `deep`). */
  async copy(from: DavEntry, to: string, deep: boolean): Promise<void> {
    if (from.kind === "file") {
      if (!(await this.copyObject(from.name, to, from.size)))
        throw new HttpError("not_found", `"${from.name}" went away while being copied.`);
      return;
    }
    await this.makeFolder(to);
    if (!deep) return;
    const base = prefixOf(from.name);
    for await (const page of this.objectsUnder(from.name)) {
      for (const object of page) {
        const target = `${to}/${object.key.slice(base.length)}`;
        if (object.key.endsWith("/") && object.size === 0) {
          await this.makeFolder(target.slice(0, -1));
        } else {
          await this.copyObject(object.key, target, object.size);
        }
      }
    }
  }

  /** Deletes a file, or a folder with everything under it (each object inside the quota); the number removed. */
  async remove(entry: DavEntry): Promise<number> {
    if (entry.kind === "file") return (await this.deleteObject(entry.name)) ? 1 : 0;
    let removed = 0;
    for await (const page of this.objectsUnder(entry.name)) {
      for (const object of page) if (await this.deleteObject(object.key)) removed++;
    }
    return removed;
  }

  private deleteObject(name: string): Promise<boolean> {
    return changeFiles(
      this.env,
      this.files,
      { names: [name], bytes: 0 },
      () => this.files.delete(name),
      () => 0,
    );
  }
}
