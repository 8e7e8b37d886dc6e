import { HttpError, badRequest, notFound } from "../http/errors";
import type { FileMeta, FileStore } from "./files";
import { isFolderMarker } from "./files";
import { type FolderStore, type Quota, bytesOf, folderPathOf, markerOf } from "./folders";
import { checkFileName } from "./names";

const MiB = 1024 * 1024;
/**
 * Above this a copy goes through multipart: R2 takes at most 5 GiB (less 5 MiB) in one put;
 * 4.9 GiB leaves a margin.
 */
export const SINGLE_PUT_MAX = Math.floor(4.9 * 1024 * MiB);
/** Part size of a multipart copy: equal parts, ≥ 5 MiB (R2), at most 10,000 of them. */
const MIN_PART = 256 * MiB;
const MAX_PARTS = 10_000;

export interface CopyOptions {
  /** Replace an existing file at the destination (else 412). */
  overwrite?: boolean;
  quota: Quota;
  /** Tests lower these to reach the multipart path with small files. */
  singlePutMax?: number;
  partBytes?: number;
}

export interface CopyTotals {
  files: number;
  bytes: number;
}

/**
 * Copies file `from` to `to` inside the bucket, streamed from R2 into R2 (the binding has no
 * server-side copy), keeping the content type and the SHA-256: R2 verifies the copy against
 * the source's SHA-256 (a multipart copy is hashed on its way and compared before it is
 * kept), so a copy is whole and byte-identical or not there. The source version is pinned by
 * its etag: if it changes mid-copy the copy fails (412) and nothing is kept.
 */
export async function copyFile(files: FileStore, from: string, to: string, options: CopyOptions): Promise<FileMeta> {
  return (await copyPinned(files, from, to, options)).copy;
}

/** `copyFile`, also telling the etag of the source version it copied. */
async function copyPinned(files: FileStore, from: string, to: string, options: CopyOptions): Promise<{ copy: FileMeta; etag: string }> {
  if (from === to) throw badRequest("A file cannot be copied or moved onto itself.");
  const source = await files.head(from);
  if (!source) throw notFound(`No file "${from}".`);
  const overwrite = options.overwrite ?? false;
  if (!overwrite && (await files.head(to))) throw exists(to);
  const { object, sha256 } = source;
  const contentType = object.httpMetadata?.contentType;

  const copy = await options.quota.change([to], object.size, async () => {
    let copy: FileMeta;
    if (object.size <= (options.singlePutMax ?? SINGLE_PUT_MAX)) {
      const read = await files.get(from, undefined, object.etag);
      if (!read) throw notFound(`No file "${from}".`);
      // R2 needs the length of what it stores; the pinned read has exactly object.size bytes.
      const fixed = new FixedLengthStream(object.size);
      read.object.body.pipeTo(fixed.writable).catch(() => {});
      copy = await files.put(to, fixed.readable, {
        length: object.size,
        sha256: sha256 ?? undefined,
        contentType,
        onlyIfAbsent: !overwrite,
      });
    } else {
      copy = await copyInParts(files, from, to, object, sha256, contentType, overwrite, options.partBytes);
    }
    if (copy.size !== object.size || (sha256 !== null && copy.sha256 !== sha256)) {
      // R2 verified the bytes against the SHA-256, so this is a bug, not bad luck: keep nothing wrong.
      await files.delete(to);
      throw new HttpError("internal", `The copy of "${from}" did not match its source; it was not kept.`);
    }
    return copy;
  });
  return { copy, etag: object.etag };
}

async function copyInParts(
  files: FileStore,
  from: string,
  to: string,
  object: R2Object,
  sha256: string | null,
  contentType: string | undefined,
  overwrite: boolean,
  partBytes?: number,
): Promise<FileMeta> {
  const size = partBytes ?? Math.max(MIN_PART, Math.ceil(object.size / MAX_PARTS / MiB) * MiB);
  const uploadId = await files.createUpload(to, contentType);
  try {
    const parts: R2UploadedPart[] = [];
    for (let offset = 0, n = 1; offset < object.size; offset += size, n++) {
      const length = Math.min(size, object.size - offset);
      const read = await files.get(from, { offset, length }, object.etag);
      if (!read) throw notFound(`No file "${from}".`);
      const fixed = new FixedLengthStream(length);
      read.object.body.pipeTo(fixed.writable).catch(() => {});
      parts.push(await files.uploadPart(to, uploadId, n, fixed.readable, length));
    }
    // A multipart completion cannot be conditional: check once more just before it.
    if (!overwrite && (await files.head(to))) throw exists(to);
    return await files.completeUpload(to, uploadId, parts, sha256 ?? undefined);
  } catch (err) {
    await files.abortUpload(to, uploadId).catch(() => {});
    throw err;
  }
}

/**
 * Moves file `from` to `to`: a whole, verified copy first, and only then the source goes —
 * if it is still the version copied (a source replaced meanwhile is kept, with a 409). R2's
 * delete takes no condition, so the check and the delete run while the quota holds the
 * source's name: no PUT, pull, upload, copy or delete (they all hold it) lands between them.
 * Only a write that bypasses the quota (none in the peer; `NO_QUOTA` in tests) could.
 */
export async function moveFile(files: FileStore, from: string, to: string, options: CopyOptions): Promise<FileMeta> {
  const { copy, etag } = await copyPinned(files, from, to, options);
  await options.quota.change([from], 0, async () => {
    const now = await files.head(from);
    if (!now) return;
    if (now.object.etag !== etag) {
      throw new HttpError("conflict", `"${from}" changed while it was moved; both it and the copy at "${to}" are kept.`);
    }
    await files.delete(from);
  });
  return copy;
}

/**
 * Copies every file (and empty-folder marker) under folder `from` to the same relative name
 * under `to`. 400 when `to` is `from` or inside it; 404 when nothing is under `from`. If any
 * file fails (412 when one exists and `overwrite` is false), the copies this call made are
 * removed again when they replaced nothing (`overwrite` false), and the error is thrown.
 * With `move`, the sources go only once every copy is whole: each source whose etag is still
 * the one copied is then deleted, 1000 per R2 call.
 */
export async function copyFolder(
  files: FileStore,
  folders: FolderStore,
  from: string,
  to: string,
  options: CopyOptions & { move?: boolean },
): Promise<CopyTotals> {
  if (to === from || to.startsWith(markerOf(from)))
    throw badRequest(`A folder cannot be copied or moved into itself ("${from}" → "${to}").`);
  const source = markerOf(from);
  const target = markerOf(to);
  const copied = new Map<string, string>();
  const totals: CopyTotals = { files: 0, bytes: 0 };
  const created: string[] = [];
  try {
    for await (const objects of folders.objectsUnder(source)) {
      for (const object of objects) {
        const name = target + object.key.slice(source.length);
        if (isFolderMarker(object.key)) {
          await folders.putMarker(folderPathOf(name));
        } else {
          checkFileName(name);
          await copyFile(files, object.key, name, options);
          if (!options.overwrite) created.push(name);
          totals.files++;
          totals.bytes += object.size;
        }
        copied.set(object.key, object.etag);
      }
    }
  } catch (err) {
    for (const name of created) await options.quota.change([name], 0, () => files.delete(name)).catch(() => false);
    throw err;
  }
  if (copied.size === 0) throw notFound(`No folder "${from}".`);
  if (options.move) {
    for await (const objects of folders.objectsUnder(source)) {
      const moved = objects.filter((o) => copied.get(o.key) === o.etag);
      await options.quota.freed(bytesOf(moved), () => files.deleteMany(moved));
    }
  }
  return totals;
}

const exists = (name: string) =>
  new HttpError("precondition_failed", `A file named "${name}" already exists; send "overwrite": true to replace it.`);
