import { HttpError, notFound } from "../http/errors";
import { type FileMeta, type FileStore, isFolderMarker } from "./files";
import { checkFolderPath } from "./names";

/** What a folder marker carries as its type (as WebDAV clients expect of a collection). */
export const FOLDER_MARKER_TYPE = "application/x-directory";
/** Objects read per R2 listing call (R2's most). */
const PAGE = 1000;
/** Names a search reads per request at most, so one request stays a few listing calls. */
export const SEARCH_BUDGET = 5000;

/**
 * A folder path as given (`docs/2025` or `docs/2025/`), checked as a name (NFC) and returned
 * without its trailing `/`; 400 when it is not a name the contract allows or when its marker
 * (the path and a `/`) would pass R2's 1024 bytes (`checkFolderPath` checks both).
 */
export function folderPathOf(raw: string): string {
  return checkFolderPath(raw).slice(0, -1);
}

/**
 * How a copy or move counts against the storage quota. The peer's is `changeFiles` (exact,
 * a Durable Object); tests may pass their own to refuse half-way.
 */
export interface Quota {
  /** Runs `write`, a change of the files `names` that may add `bytes`; throws (413) to refuse. */
  change<T>(names: string[], bytes: number, write: () => Promise<T>): Promise<T>;
  /** Runs `write`, a batch delete of listed objects of `bytes` in all (no names held). */
  freed<T>(bytes: number, write: () => Promise<T>): Promise<T>;
}

/** No quota (tests of the copy itself). */
export const NO_QUOTA: Quota = { change: (_names, _bytes, write) => write(), freed: (_bytes, write) => write() };

/** Bytes of listed objects. */
export const bytesOf = (objects: R2Object[]) => objects.reduce((sum, o) => sum + o.size, 0);

/** The marker object of folder `path` (without its trailing `/`). */
export const markerOf = (path: string) => `${path}/`;

export interface SearchPage {
  files: FileMeta[];
  cursor: string | null;
  scanned: number;
}

/** Folders of the bucket: markers, listing by prefix, deletion in batches, search by name. */
export class FolderStore {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly files: FileStore,
  ) {}

  /** Makes folder `path` exist (its marker); 409 when a file has that name. */
  async create(path: string): Promise<void> {
    if (await this.bucket.head(path)) throw new HttpError("conflict", `A file named "${path}" exists; a folder cannot have its name.`);
    await this.putMarker(path);
  }

  /** Writes the marker of folder `path` (checked by `folderPathOf`). */
  async putMarker(path: string): Promise<void> {
    await this.bucket.put(markerOf(path), new Uint8Array(0), { httpMetadata: { contentType: FOLDER_MARKER_TYPE } });
  }

  /** Every object under `prefix` (markers included), a listing page at a time, with their metadata. */
  async *objectsUnder(prefix: string): AsyncGenerator<R2Object[]> {
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor, limit: PAGE, include: ["httpMetadata", "customMetadata"] });
      if (page.objects.length > 0) yield page.objects;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  /**
   * Deletes folder `path`. Empty (nothing under it but its own marker): the marker goes and
   * the answer is null. Otherwise 409, unless `recursive`: then every object under it goes,
   * 1000 per R2 call, and the answer is how many files (markers not counted) were deleted.
   * 404 when nothing is under it.
   */
  async remove(path: string, recursive: boolean, quota: Quota): Promise<number | null> {
    const prefix = markerOf(path);
    const first = await this.bucket.list({ prefix, limit: 2 });
    if (first.objects.length === 0 && first.delimitedPrefixes.length === 0) throw notFound(`No folder "${path}".`);
    const onlyMarker = first.objects.length === 1 && first.objects[0]?.key === prefix && !first.truncated;
    if (onlyMarker) {
      await this.bucket.delete(prefix);
      return null;
    }
    if (!recursive) throw new HttpError("conflict", `The folder "${path}" is not empty; delete it with recursive=true.`);
    let deleted = 0;
    // Listing after each batch delete would skip nothing, but the cursor of a page already read stays valid.
    for await (const objects of this.objectsUnder(prefix)) {
      await quota.freed(bytesOf(objects), () => this.files.deleteMany(objects));
      deleted += objects.filter((o) => !isFolderMarker(o.key)).length;
    }
    return deleted;
  }

  /**
   * Files under `prefix` whose whole name contains `term`, case-insensitively. Reads at most
   * `budget` names per call and stops at `limit` matches; the cursor is the last name
   * read (R2's `startAfter`), so the next call resumes exactly there.
   */
  async search(prefix: string, term: string, cursor: string | undefined, limit: number, budget = SEARCH_BUDGET): Promise<SearchPage> {
    const needle = term.normalize("NFC").toLowerCase();
    const found: R2Object[] = [];
    let scanned = 0;
    let read = 0;
    let after = cursor;
    const answer = async (more: boolean): Promise<SearchPage> => ({
      files: await this.files.metaOf(found),
      cursor: more ? (after ?? null) : null,
      scanned,
    });
    for (;;) {
      const page = await this.bucket.list({
        prefix,
        ...(after !== undefined && { startAfter: after }),
        limit: Math.min(PAGE, budget - read),
        include: ["httpMetadata", "customMetadata"],
      });
      const last = page.objects[page.objects.length - 1];
      for (const object of page.objects) {
        after = object.key;
        read++;
        if (isFolderMarker(object.key)) continue;
        scanned++;
        if (object.key.toLowerCase().includes(needle)) found.push(object);
        // Stopped inside the page: the cursor resumes after this name.
        if (found.length === limit) return answer(page.truncated || object !== last);
      }
      if (!page.truncated) return answer(false);
      if (read >= budget) return answer(true);
    }
  }
}
