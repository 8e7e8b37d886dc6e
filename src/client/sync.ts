import { pool } from "../api/pool";
import { compareFolders, folderPrefix, type CompareOptions, type ListingProgress } from "./check";
import type { PeerClient } from "./client";
import type { PutItem } from "./types";
import { PeerError, describeCause } from "./errors";
import { type TransferMode, changedOnSource, transferFile } from "./transfer";

/** Files copied at once when the caller does not say. */
export const DEFAULT_SYNC_CONCURRENCY = 4;
/** More at once only queues on the peers. */
export const MAX_SYNC_CONCURRENCY = 64;
/** Files up to this size are pulled in batches (`POST /api/links` on A, `POST /api/pulls` on B). */
export const BATCH_FILE_MAX = 1024 * 1024;
/** Most files in one batch (the peer's limit) … */
const BATCH_FILES_MAX = 100;
/** … and most bytes … */
const BATCH_BYTES_MAX = 16 * 1024 * 1024;
/** … or, relayed, held in the caller's memory until B takes them (`concurrency` batches at once). */
const RELAY_BATCH_BYTES_MAX = 4 * 1024 * 1024;
/** Longest life of a batch's transfer links (the peer's limit): they are used at once. */
const BATCH_LINK_TTL_MAX = 3600;

/** One step of a sync: copy A's file over B's, or delete B's. */
export interface SyncAction {
  op: "copy" | "delete";
  /** The name under the folders, the same on both sides. */
  path: string;
  /** A's name (copies only). */
  from?: string;
  /** B's name: where the copy goes, or the file deleted. */
  to: string;
  /** Bytes copied (A's size), or the size of B's file deleted. */
  size: number;
  /** A's SHA-256, which the copy must have on arrival (copies only; null when A has none). */
  sha256?: string | null;
  /** A's ETag of the version listed (copies only): what a batch's transfer link is bound to. */
  etag?: string;
  /** Why: the file is only on A, differs, or is only on B. */
  reason: "onlyA" | "differs" | "onlyB";
}

/** What a sync will do, from the two listings alone: nothing is changed by making it. */
export interface SyncPlan {
  /** The folders, as normalised (`photos/`). */
  prefix: string;
  as: string;
  copies: SyncAction[];
  /** Only with `delete`: the files only on B. */
  deletes: SyncAction[];
  identical: number;
  /** Identical on size alone: one side has no SHA-256 for them. */
  comparedBySize: number;
  /** Files only on B that stay, because `delete` was not asked for. */
  kept: number;
  /** Bytes the copies will move. */
  bytes: number;
  /** Listing pages read from each side. */
  pages: { a: number; b: number };
  /** A and B are the same peer: copies are server-side copies. */
  samePeer: boolean;
}

/** Files and bytes done so far, of the plan's totals. */
export interface SyncProgress {
  files: { done: number; total: number };
  bytes: { done: number; total: number };
}

export interface SyncFailure {
  action: SyncAction;
  code: string;
  message: string;
}

/** What one step came to. */
export type SyncOutcome = { action: SyncAction; ok: true; via: TransferMode | "copy" | "delete" } | ({ ok: false } & SyncFailure);

export interface SyncOptions extends CompareOptions {
  /** How bytes move between two peers (default `pull`); within one peer: server-side copy. */
  mode?: TransferMode;
  /** Delete what is only on B (never without it). */
  delete?: boolean;
  /** Files moved at once (default 4). */
  concurrency?: number;
  /** Lifetime of each signed link in pull mode (default 3600 s). */
  linkTtlSeconds?: number;
  /**
   * Stops starting new steps; those in flight end as they would (a Ctrl-C). `signal` (from
   * `CompareOptions`) stops new steps too, and aborts those in flight.
   */
  stop?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
  /** Called as each step ends, done or failed. */
  onOutcome?: (outcome: SyncOutcome) => void;
}

export interface SyncReport {
  plan: SyncPlan;
  copied: number;
  copiedBytes: number;
  deleted: number;
  identical: number;
  /** Every step that failed, with the reason; the others were still done. */
  failed: SyncFailure[];
  /**
   * Deletes not done because a copy failed: a file renamed on A is deleted on B only once
   * its new name has arrived (rclone's rule too). A rerun does them.
   */
  deletesSkipped: number;
  /** `stop` or `signal` stopped the sync; what was not done is left for a rerun. */
  interrupted: boolean;
  /** Steps never started because the sync was stopped. */
  notStarted: number;
  /** Copies by how their bytes moved: pulled by B, relayed by the caller, copied inside one peer. */
  copiedVia: Record<TransferMode | "copy", number>;
}

/**
 * What `syncPeers` would do to make `as` on B identical to `prefix` on A: copies of every file
 * only on A or different there, and, with `delete`, deletes of every file only on B. Reads the
 * two listings and nothing else.
 */
export async function planSync(a: PeerClient, b: PeerClient, options: SyncOptions = {}): Promise<SyncPlan> {
  const prefix = folderPrefix(options.prefix);
  const as = options.as === undefined ? prefix : folderPrefix(options.as);
  const samePeer = sameOrigin(a.url, b.url);
  if (samePeer && (prefix.startsWith(as) || as.startsWith(prefix))) {
    const what = prefix === as ? "are the same folder" : "overlap";
    throw new PeerError(
      "bad_request",
      `"${prefix || "/"}" and "${as || "/"}" on ${a.name} ${what}: a folder cannot be synced into itself.`,
    );
  }
  const plan: SyncPlan = {
    prefix,
    as,
    copies: [],
    deletes: [],
    identical: 0,
    comparedBySize: 0,
    kept: 0,
    bytes: 0,
    pages: { a: 0, b: 0 },
    samePeer,
  };
  const onListed = (listed: ListingProgress) => {
    plan.pages = listed.pages;
    options.onListed?.(listed);
  };
  for await (const file of compareFolders(a, b, { ...options, prefix, as, onListed })) {
    if (file.status === "identical") {
      plan.identical++;
      if (file.by === "size") plan.comparedBySize++;
    } else if (file.status === "onlyB") {
      if (options.delete && file.b)
        plan.deletes.push({ op: "delete", path: file.path, to: file.b.name, size: file.b.size, reason: "onlyB" });
      else plan.kept++;
    } else if (file.a) {
      plan.copies.push({
        op: "copy",
        path: file.path,
        from: file.a.name,
        to: as + file.path,
        size: file.a.size,
        sha256: file.a.sha256,
        etag: file.a.etag,
        reason: file.status,
      });
      plan.bytes += file.a.size;
    }
  }
  return plan;
}

/**
 * Carries out a plan: copies `concurrency` at a time — pulled by B from a link A signs (no
 * byte through the caller), relayed through the caller (multipart for big files), or copied
 * inside the peer when A and B are one — each verified by SHA-256 on arrival; then the deletes,
 * only if every copy arrived. A step that fails does not stop the others. Aborting `stop` or `signal`
 * stops taking new steps; a rerun (a new plan) moves only what is left.
 */
export async function applySync(a: PeerClient, b: PeerClient, plan: SyncPlan, options: SyncOptions = {}): Promise<SyncReport> {
  const report: SyncReport = {
    plan,
    copied: 0,
    copiedBytes: 0,
    deleted: 0,
    identical: plan.identical,
    failed: [],
    deletesSkipped: 0,
    interrupted: false,
    notStarted: 0,
    copiedVia: { pull: 0, relay: 0, copy: 0 },
  };
  const concurrency = Math.min(MAX_SYNC_CONCURRENCY, Math.max(1, Math.floor(options.concurrency ?? DEFAULT_SYNC_CONCURRENCY)));
  const total = { files: plan.copies.length + plan.deletes.length, bytes: plan.bytes };
  let filesDone = 0;
  let bytesDone = 0;
  const moving = new Map<SyncAction, number>();
  const progress = () => {
    let bytes = bytesDone;
    for (const n of moving.values()) bytes += n;
    options.onProgress?.({ files: { done: filesDone, total: total.files }, bytes: { done: bytes, total: total.bytes } });
  };
  const fail = (action: SyncAction, err: unknown) => {
    const failure: SyncFailure = {
      action,
      code: err instanceof PeerError ? err.code : "internal",
      message: err instanceof Error ? err.message : String(err),
    };
    report.failed.push(failure);
    options.onOutcome?.({ ok: false, ...failure });
  };

  const stopped = () => Boolean(options.signal?.aborted || options.stop?.aborted);
  const pullsAhead = !plan.samePeer && (options.mode ?? "pull") === "pull";
  const relays = !plan.samePeer && options.mode === "relay";
  // Small files between two peers go in batches: pulled, one request to A signs a batch's links
  // and one to B pulls them all; relayed, the caller GETs them from A and sends them to B in one
  // request. A file costs neither a round trip nor a quota reservation of its own on B. The
  // rest go one by one.
  const units: SyncUnit[] = plan.samePeer
    ? plan.copies.map((action) => ({ one: action }))
    : batched(plan.copies, concurrency, relays ? RELAY_BATCH_BYTES_MAX : BATCH_BYTES_MAX);
  const singles = units.flatMap((u) => ("one" in u ? [u.one] : []));
  // Pull between two peers, one by one: A's links are asked for `concurrency` files ahead, so
  // each copy is B's pull alone while the next links are being signed.
  const links = new Map<SyncAction, Promise<string>>();
  const askAhead = (action: SyncAction) => {
    const index = singles.indexOf(action);
    if (index < 0) return;
    for (const next of singles.slice(index, index + concurrency)) {
      if (links.has(next) || !next.sha256 || stopped()) continue;
      const link = a.shareFile(next.from as string, options.linkTtlSeconds ?? 3600, options.signal).then((made) => made.url);
      // Its failure is the copy's, reported when the copy awaits it.
      link.catch(() => undefined);
      links.set(next, link);
    }
  };
  const done = (action: SyncAction, via: TransferMode | "copy") => {
    report.copied++;
    report.copiedBytes += action.size;
    report.copiedVia[via]++;
    options.onOutcome?.({ action, ok: true, via });
  };
  const finish = (action: SyncAction) => {
    moving.delete(action);
    bytesDone += action.size;
    filesDone++;
  };
  const copy = async (action: SyncAction) => {
    moving.set(action, 0);
    if (pullsAhead) askAhead(action);
    try {
      let link = links.get(action);
      links.delete(action);
      const via = await copyAgainAfterReset(() => {
        // A try after a reset asks for a link of its own.
        const ahead = link;
        link = undefined;
        return copyOne(a, b, action, plan.samePeer, { ...options, link: ahead }, (sent) => {
          moving.set(action, sent);
          progress();
        });
      });
      done(action, via);
    } catch (err) {
      fail(action, err);
    } finally {
      finish(action);
      progress();
    }
  };
  // A peer from before the batch routes (404/405) gets every file the single way.
  let batchesUnsupported = false;
  let leftInBatches = 0;
  const copyBatch = async (batch: SyncAction[]) => {
    if (!batchesUnsupported) {
      for (const action of batch) moving.set(action, 0);
      try {
        let outcomes: Array<true | PeerError>;
        if (relays) {
          outcomes = await relayBatch(a, b, batch, options, (action) => {
            moving.set(action, action.size);
            progress();
          });
        } else {
          outcomes = await copyAgainAfterReset(() => pullBatch(a, b, batch, options));
          await pullFailedAgain(a, b, batch, outcomes, options);
        }
        batch.forEach((action, i) => {
          const outcome = outcomes[i] ?? true;
          if (outcome === true) done(action, relays ? "relay" : "pull");
          else fail(action, outcome);
          finish(action);
        });
        progress();
        return;
      } catch (err) {
        // A peer from before the batch routes: every later batch goes file by file too.
        if (err instanceof PeerError && (err.status === 404 || err.status === 405)) batchesUnsupported = true;
        // Over B's quota as a whole (413): one file at a time needs room for one new version only.
        // Refused whole (400: a type or name B takes from no batch): each file alone gets its own answer.
        if (err instanceof PeerError && [400, 404, 405, 413].includes(err.status)) {
          for (const action of batch) moving.delete(action);
        } else {
          for (const action of batch) {
            fail(action, err);
            finish(action);
          }
          progress();
          return;
        }
      }
    }
    for (const [i, action] of batch.entries()) {
      if (stopped()) {
        leftInBatches += batch.length - i;
        break;
      }
      await copy(action);
    }
  };
  const remove = async (action: SyncAction) => {
    try {
      await b.deleteFile(action.to).catch((err: unknown) => {
        // Already gone is what was wanted.
        if (!(err instanceof PeerError && err.code === "not_found")) throw err;
      });
      report.deleted++;
      options.onOutcome?.({ action, ok: true, via: "delete" });
    } catch (err) {
      fail(action, err);
    } finally {
      filesDone++;
      progress();
    }
  };

  progress();
  const started = (await pool(units, concurrency, (unit) => ("one" in unit ? copy(unit.one) : copyBatch(unit.batch)), stopped)).length;
  report.notStarted = leftInBatches + units.slice(started).reduce((n, unit) => n + ("one" in unit ? 1 : unit.batch.length), 0);
  if (plan.deletes.length > 0) {
    if (report.failed.length > 0 || stopped()) report.deletesSkipped = plan.deletes.length;
    else report.notStarted += plan.deletes.length - (await pool(plan.deletes, concurrency, remove, stopped)).length;
  }
  report.interrupted = stopped();
  return report;
}

/**
 * `edgepeer sync`: makes `as` on B identical to `prefix` on A — `planSync`, then `applySync`.
 * Identical files (same SHA-256) are skipped, so a rerun after an interruption moves only
 * what is left. Runs in Node and in browsers.
 */
export async function syncPeers(a: PeerClient, b: PeerClient, options: SyncOptions = {}): Promise<SyncReport> {
  return applySync(a, b, await planSync(a, b, options), options);
}

/** `copied N (size), deleted N, identical N, failed N`, with sizes as `formatSize` writes them. */
export function syncSummary(report: SyncReport, formatSize: (bytes: number) => string = (n) => `${n} B`): string {
  return `copied ${report.copied} (${formatSize(report.copiedBytes)}), deleted ${report.deleted}, identical ${report.identical}, failed ${report.failed.length}`;
}

/** Tries of one copy whose connection was reset or closed under it. */
const COPY_TRIES = 3;

/**
 * Runs a copy again when a connection was reset or closed before any answer — a kept-alive
 * connection the peer had just closed. Every step of a copy is safe to repeat (a new link, the
 * same bytes pulled or relayed to the same name again), unlike a POST in general, which the
 * transport does not send twice.
 */
async function copyAgainAfterReset<T>(copy: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await copy();
    } catch (err) {
      const reset = err instanceof PeerError && err.code === "unreachable" && /connection (reset|closed)/.test(err.message);
      if (!reset || tries >= COPY_TRIES) throw err;
    }
  }
}

async function copyOne(
  a: PeerClient,
  b: PeerClient,
  action: SyncAction,
  samePeer: boolean,
  options: SyncOptions & { link?: Promise<string> },
  onBytes: (sent: number) => void,
): Promise<TransferMode | "copy"> {
  const from = action.from as string;
  const expectedSha256 = action.sha256 ?? undefined;
  if (samePeer) {
    try {
      // With B's token, as a pull: the copy writes on B's side.
      const meta = await b.copyFile(from, action.to, { overwrite: true, signal: options.signal });
      if (expectedSha256 && meta.sha256 !== expectedSha256) {
        throw changedOnSource(a, from);
      }
      return "copy";
    } catch (err) {
      // A peer from before server-side copy answers 405: the bytes go through the caller instead.
      if (!(err instanceof PeerError && err.code === "method_not_allowed")) throw err;
    }
  }
  const mode = samePeer ? "relay" : (options.mode ?? "pull");
  try {
    await transferFile(a, b, from, {
      mode,
      as: action.to,
      expectedSha256,
      signal: options.signal,
      linkTtlSeconds: options.linkTtlSeconds,
      link: options.link,
      onProgress: (sent) => onBytes(sent),
    });
  } catch (err) {
    if (err instanceof PeerError) throw err;
    throw new PeerError("internal", `Copying "${from}" failed: ${describeCause(err)}.`);
  }
  return mode;
}

/** What one of the sync's requests in flight carries: one file, or a batch of small ones. */
type SyncUnit = { one: SyncAction } | { batch: SyncAction[] };

/** A copy that can go in a batch: small, and listed with the ETag and SHA-256 that bind and verify it. */
const batchable = (action: SyncAction) => action.size <= BATCH_FILE_MAX && Boolean(action.sha256) && Boolean(action.etag);

/**
 * The copies as units of work, in the plan's order: small files in batches (≤ 100 files,
 * ≤ `maxBytes`), the others alone. Batches are made no larger than it takes to keep `concurrency`
 * requests busy a few times over, so a short sync still runs in parallel and shows progress.
 */
function batched(copies: SyncAction[], concurrency: number, maxBytes: number): SyncUnit[] {
  const small = copies.filter(batchable);
  const size = Math.min(BATCH_FILES_MAX, Math.max(1, Math.ceil(small.length / (concurrency * 3))));
  const units: SyncUnit[] = [];
  let batch: SyncAction[] = [];
  let bytes = 0;
  const close = () => {
    // Even one file goes as a batch: its link is then signed with no registry write, and pulled with no registry check.
    if (batch.length > 0) units.push({ batch });
    batch = [];
    bytes = 0;
  };
  for (const action of copies) {
    if (!batchable(action)) {
      units.push({ one: action });
      continue;
    }
    if (batch.length >= size || bytes + action.size > maxBytes) close();
    batch.push(action);
    bytes += action.size;
  }
  close();
  return units;
}

/**
 * Pulls a batch of small files from A into B: A signs their version-bound links from the
 * listing's ETags in one request (no file read), B pulls them all in one. Each file's outcome,
 * in order: `true`, or why it failed — a file changed on A since the listing is `changed`.
 */
async function pullBatch(a: PeerClient, b: PeerClient, batch: SyncAction[], options: SyncOptions): Promise<Array<true | PeerError>> {
  const ttl = Math.min(BATCH_LINK_TTL_MAX, options.linkTtlSeconds ?? BATCH_LINK_TTL_MAX);
  const files = batch.map((action) => ({ name: action.from as string, etag: action.etag as string }));
  const { links } = await a.transferLinks(files, { ttl, signal: options.signal });
  const urls = new Map(links.map((link) => [link.name, link.url]));
  // A file A signed no link for (a key A lists but names otherwise, e.g. not in NFC) fails alone.
  const outcomes: Array<true | PeerError> = batch.map(
    (action) => new PeerError("bad_response", `${a.name} signed no link for "${action.from}".`, 0, a.name),
  );
  const sent = batch.flatMap((action, i) => (urls.has(action.from as string) ? [i] : []));
  if (sent.length === 0) return outcomes;
  const items = sent.map((i) => {
    const action = batch[i] as SyncAction;
    return { from: urls.get(action.from as string) as string, name: action.to, size: action.size, sha256: action.sha256 ?? undefined };
  });
  const results = await b.pullFiles(items, options.signal);
  sent.forEach((i, k) => {
    const action = batch[i] as SyncAction;
    const result = results[k];
    if (!result || result.name !== action.to) {
      outcomes[i] = new PeerError("bad_response", `${b.name} answered the batch pull out of order.`, 0, b.name);
    } else if (!result.ok) {
      outcomes[i] =
        result.error.code === "gone"
          ? changedOnSource(a, action.from as string)
          : new PeerError(result.error.code, `${b.name}: pulling "${action.to}" failed: ${result.error.message}`, 0, b.name);
    } else if (action.sha256 && result.file.sha256 !== action.sha256) {
      // B verified the bytes against the SHA-256 sent; this checks B's word for it.
      outcomes[i] = changedOnSource(a, action.from as string);
    } else {
      outcomes[i] = true;
    }
  });
  return outcomes;
}

/**
 * Relays a batch of small files from A to B through the caller: each is downloaded from A in
 * turn (its ETag must still be the one listed, else it is `changed` and not sent), then all go
 * to B in one `POST /api/puts`, each checked by B against the SHA-256 A listed. Each file's
 * outcome, in order: `true`, or why it failed. `downloaded` is told of each file in hand.
 */
async function relayBatch(
  a: PeerClient,
  b: PeerClient,
  batch: SyncAction[],
  options: SyncOptions,
  downloaded: (action: SyncAction) => void,
): Promise<Array<true | PeerError>> {
  const outcomes: Array<true | PeerError> = [];
  const sent: number[] = [];
  const items: PutItem[] = [];
  for (const [i, action] of batch.entries()) {
    const from = action.from as string;
    try {
      // A kept-alive connection A had just closed is tried again, as a single copy's is.
      const file = await copyAgainAfterReset(() => a.getWholeFile(from, { signal: options.signal }));
      if (file.etag !== action.etag) throw changedOnSource(a, from);
      outcomes.push(true);
      sent.push(i);
      items.push({ name: action.to, bytes: file.bytes, sha256: action.sha256 ?? undefined, contentType: file.contentType });
      downloaded(action);
    } catch (err) {
      // Gone from A since the listing is a change on A too.
      const gone = err instanceof PeerError && err.code === "not_found";
      outcomes.push(gone ? changedOnSource(a, from) : err instanceof PeerError ? err : new PeerError("internal", describeCause(err)));
    }
  }
  if (items.length === 0) return outcomes;
  const results = await copyAgainAfterReset(() => b.putFiles(items, options.signal));
  const wrong: string[] = [];
  sent.forEach((i, k) => {
    const action = batch[i] as SyncAction;
    const result = results[k];
    if (!result || result.name !== action.to) {
      outcomes[i] = new PeerError("bad_response", `${b.name} answered the batch put out of order.`, 0, b.name);
    } else if (!result.ok) {
      outcomes[i] = new PeerError(result.error.code, `${b.name}: storing "${action.to}" failed: ${result.error.message}`, 0, b.name);
    } else if (action.sha256 && result.file.sha256 !== action.sha256) {
      // B verified the bytes against this very SHA-256, so this is badly wrong: never keep it.
      wrong.push(action.to);
      outcomes[i] = new PeerError(
        "verify_failed",
        `${b.name} stored "${action.to}" with SHA-256 ${result.file.sha256}, not ${action.sha256}; it was deleted.`,
        0,
        b.name,
      );
    }
  });
  for (const name of wrong) await b.deleteFile(name).catch(() => undefined);
  return outcomes;
}

/**
 * The files of a batch B could not fetch from A (`upstream_failed`: A unreachable, an error
 * answer, a break, out of time) go once more, as one smaller batch — version-bound links again,
 * nothing registered on A, each with its deadline on B — and their new outcomes replace the
 * first. Also after a stop: they are copies already in flight. Not when every file of a batch of
 * several failed (B cannot reach A at all: trying again would only double the wait), nor after
 * an abort. `outcomes` is updated in place.
 */
async function pullFailedAgain(
  a: PeerClient,
  b: PeerClient,
  batch: SyncAction[],
  outcomes: Array<true | PeerError>,
  options: SyncOptions,
): Promise<void> {
  const failed = batch.flatMap((_, i) => {
    const outcome = outcomes[i];
    return outcome instanceof PeerError && outcome.code === "upstream_failed" ? [i] : [];
  });
  if (failed.length === 0 || (batch.length > 1 && failed.length === batch.length) || options.signal?.aborted) return;
  const retry = failed.map((i) => batch[i] as SyncAction);
  try {
    const again = await copyAgainAfterReset(() => pullBatch(a, b, retry, options));
    failed.forEach((i, k) => {
      outcomes[i] = again[k] ?? (outcomes[i] as PeerError);
    });
  } catch {
    // The first outcomes stand.
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Two URLs of one peer (loopback spellings count as one host). */
export function sameOrigin(x: string, y: string): boolean {
  const u = new URL(x);
  const v = new URL(y);
  const host = (url: URL) => (LOOPBACK.has(url.hostname) ? "loopback" : url.hostname);
  return u.protocol === v.protocol && u.port === v.port && host(u) === host(v);
}
