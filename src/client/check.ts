import { MAX_LIST_LIMIT, type PeerClient } from "./client";
import { filePrefixProblem } from "../api/names";
import { PeerError, invalidArgument } from "./errors";
import type { FileMeta } from "./types";

/** Where a file stands between two peers. */
export type FileStatus = "identical" | "differs" | "onlyA" | "onlyB";

/** One file of a comparison, by its path under the compared folders. */
export interface FileComparison {
  status: FileStatus;
  /** The name under the folder, the same on both sides (`x.jpg` for `photos/x.jpg`). */
  path: string;
  /** A's file (absent when only on B). */
  a?: FileMeta;
  /** B's file (absent when only on A). */
  b?: FileMeta;
  /**
   * What decided `identical` or `differs`: `sha256` when both sides know it, `size` when one
   * of them has no SHA-256 (then equal sizes count as identical, unverified).
   */
  by?: "sha256" | "size";
}

/** Which folders to compare: `prefix` on A, `as` on B (default: the same). */
export interface CompareOptions {
  /** A folder; a trailing `/` is added (`photos` never takes in `photos2/`). Empty: everything. */
  prefix?: string;
  /** The folder on B that mirrors `prefix` on A (default `prefix`). */
  as?: string;
  /** Files per listing page (default and most: 1000). */
  pageSize?: number;
  signal?: AbortSignal;
  /** Called after every listing page, with what was listed so far on each side. */
  onListed?: (listed: ListingProgress) => void;
}

/** Files and listing pages read so far from A and from B. */
export interface ListingProgress {
  files: { a: number; b: number };
  pages: { a: number; b: number };
}

export interface CheckOptions extends CompareOptions {
  /** Called with each file that is not identical, as the listings are merged. */
  onDifference?: (difference: FileComparison) => void;
}

/** What `checkPeers` found. */
export interface CheckReport {
  /** The folders compared, as normalised (`photos/`). */
  prefix: string;
  as: string;
  identical: number;
  differ: number;
  onlyOnA: number;
  onlyOnB: number;
  /** Files counted identical on their size alone: one side has no SHA-256 for them. */
  comparedBySize: FileComparison[];
  /** Every file that is not identical, in name order. */
  differences: FileComparison[];
  /** Listing pages read from A and from B (the only requests a check makes). */
  pages: { a: number; b: number };
}

/** A prefix as a folder: empty stays empty, anything else ends in `/`. */
export function folderPrefix(prefix: string | undefined): string {
  if (!prefix) return "";
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/**
 * Orders names as peers list them: by UTF-8 bytes, i.e. by code point. JavaScript's `<`
 * compares UTF-16 units, which puts U+E000–U+FFFF after astral characters (emoji); this does not.
 */
export function compareNames(x: string, y: string): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const cx = x.charCodeAt(i);
    const cy = y.charCodeAt(i);
    if (cx !== cy) return codePointRank(cx) - codePointRank(cy);
  }
  return x.length - y.length;
}

/** Surrogates (astral code points) move above U+E000–U+FFFF; everything else keeps its order. */
const codePointRank = (unit: number) => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800);

/**
 * Every file under `prefix` on `client`, in name order, page after page: the next page is
 * asked for while this one is used, and only one page is held at a time. Folder markers
 * (zero-byte `path/` objects) are not files and are skipped. A peer that lists out of order
 * is an error: a merge of two listings depends on it.
 */
export async function* listFolder(
  client: PeerClient,
  prefix: string,
  options: { pageSize?: number; signal?: AbortSignal; onPage?: (files: number) => void } = {},
): AsyncGenerator<FileMeta> {
  const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, options.pageSize ?? MAX_LIST_LIMIT));
  const ask = (cursor?: string) => {
    const page = client.listFiles({ prefix, cursor, limit, signal: options.signal });
    // Prefetched: if the caller stops early, this page's failure has nobody to hear it.
    page.catch(() => undefined);
    return page;
  };
  let next = ask();
  let last: string | undefined;
  for (;;) {
    const page = await next;
    if (page.cursor) next = ask(page.cursor);
    options.onPage?.(page.files.length);
    for (const file of page.files) {
      if (file.name.endsWith("/")) continue;
      if (!file.name.startsWith(prefix)) {
        throw new PeerError("bad_response", `${client.name} listed "${file.name}" under the prefix "${prefix}".`, 200, client.name);
      }
      if (last !== undefined && compareNames(last, file.name) >= 0) {
        throw new PeerError("bad_response", `${client.name} listed "${file.name}" after "${last}", out of name order.`, 200, client.name);
      }
      last = file.name;
      yield file;
    }
    if (!page.cursor) return;
  }
}

/**
 * Compares `prefix` on A with `as` on B by merging both name-ordered listings: names, sizes
 * and SHA-256, without reading a byte of any file. Requests follow the listing pages (one per
 * 1000 files on each side, two in flight at most), never the file count; memory holds one
 * page of each side. Yields every file, identical or not, in name order.
 */
export async function* compareFolders(a: PeerClient, b: PeerClient, options: CompareOptions = {}): AsyncGenerator<FileComparison> {
  const prefixA = folderPrefix(options.prefix);
  const prefixB = options.as === undefined ? prefixA : folderPrefix(options.as);
  // Both folders are checked before either peer is asked (B's names are built from `as`).
  const problem = filePrefixProblem(prefixA) ?? filePrefixProblem(prefixB);
  if (problem) throw invalidArgument(problem);
  const listed: ListingProgress = { files: { a: 0, b: 0 }, pages: { a: 0, b: 0 } };
  const onPage = (side: "a" | "b") => (files: number) => {
    listed.files[side] += files;
    listed.pages[side]++;
    options.onListed?.({ files: { ...listed.files }, pages: { ...listed.pages } });
  };
  const left = listFolder(a, prefixA, { pageSize: options.pageSize, signal: options.signal, onPage: onPage("a") });
  const right = listFolder(b, prefixB, { pageSize: options.pageSize, signal: options.signal, onPage: onPage("b") });
  for await (const { path, a: fa, b: fb } of mergeListings(left, right, prefixA, prefixB)) {
    if (fa && fb) yield compareFiles(path, fa, fb);
    else if (fa) yield { status: "onlyA", path, a: fa };
    else if (fb) yield { status: "onlyB", path, b: fb };
  }
}

/** One path of two merged listings, with the file each side holds under it (absent on one side at most). */
export interface MergedName<T> {
  path: string;
  a: T | undefined;
  b: T | undefined;
}

/**
 * Merges two name-ordered listings by the name under each side's prefix (`prefixA` on `left`,
 * `prefixB` on `right`): one step per file, one page of each side in memory. `check` and the
 * peer's replication reconcile both walk their two sides this way. Both first items are asked
 * for at once, so a folder of one page a side costs one listing's time, not two.
 */
export async function* mergeListings<T extends { name: string }>(
  left: AsyncGenerator<T>,
  right: AsyncGenerator<T>,
  prefixA: string,
  prefixB: string,
): AsyncGenerator<MergedName<T>> {
  try {
    let [x, y] = await Promise.all([left.next(), right.next()]);
    while (!x.done || !y.done) {
      const fa = x.done ? undefined : x.value;
      const fb = y.done ? undefined : y.value;
      const pa = fa?.name.slice(prefixA.length);
      const pb = fb?.name.slice(prefixB.length);
      const order = pa === undefined ? 1 : pb === undefined ? -1 : compareNames(pa, pb);
      if (order < 0 && pa !== undefined) {
        yield { path: pa, a: fa, b: undefined };
        x = await left.next();
      } else if (order > 0 && pb !== undefined) {
        yield { path: pb, a: undefined, b: fb };
        y = await right.next();
      } else if (pa !== undefined) {
        yield { path: pa, a: fa, b: fb };
        x = await left.next();
        y = await right.next();
      }
    }
  } finally {
    await Promise.all([left.return(undefined), right.return(undefined)]);
  }
}

function compareFiles(path: string, a: FileMeta, b: FileMeta): FileComparison {
  if (a.size !== b.size) return { status: "differs", path, a, b, by: "size" };
  if (a.sha256 && b.sha256) return { status: a.sha256 === b.sha256 ? "identical" : "differs", path, a, b, by: "sha256" };
  return { status: "identical", path, a, b, by: "size" };
}

/**
 * `edgepeer check`: what differs between `prefix` on A and `as` on B, by name, size and
 * SHA-256 from the two listings alone. Runs in Node and in browsers.
 */
export async function checkPeers(a: PeerClient, b: PeerClient, options: CheckOptions = {}): Promise<CheckReport> {
  const prefix = folderPrefix(options.prefix);
  const as = options.as === undefined ? prefix : folderPrefix(options.as);
  const report: CheckReport = {
    prefix,
    as,
    identical: 0,
    differ: 0,
    onlyOnA: 0,
    onlyOnB: 0,
    comparedBySize: [],
    differences: [],
    pages: { a: 0, b: 0 },
  };
  const onListed = (listed: ListingProgress) => {
    report.pages = listed.pages;
    options.onListed?.(listed);
  };
  for await (const file of compareFolders(a, b, { ...options, prefix, as, onListed })) {
    if (file.status === "identical") {
      report.identical++;
      if (file.by === "size") report.comparedBySize.push(file);
      continue;
    }
    if (file.status === "differs") report.differ++;
    else if (file.status === "onlyA") report.onlyOnA++;
    else report.onlyOnB++;
    report.differences.push(file);
    options.onDifference?.(file);
  }
  return report;
}

/** The summary line: `N identical, N differ, N only on A, N only on B`. */
export function checkSummary(report: Pick<CheckReport, "identical" | "differ" | "onlyOnA" | "onlyOnB">): string {
  return `${report.identical} identical, ${report.differ} differ, ${report.onlyOnA} only on A, ${report.onlyOnB} only on B`;
}
