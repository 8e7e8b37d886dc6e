import { intVar } from "../config";
import type { PeerEnv } from "../env";
import { HttpError } from "../http/errors";
import { countTaskRuns, taskRunsSince } from "./taskRuns";
import { sha256Hex } from "../http/crypto";
import type { FileStore } from "./files";
import type { Quota } from "./folders";
import type { MemoryStore } from "./memory";
import type { CarriedCommit, QuotaUsage, ReserveAnswer, ReserveRequest } from "./storageQuota";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Storage quota of the bucket in MiB (default 51200 = 50 GiB). */
      STORAGE_LIMIT_MB?: string;
      /** Most memory keys the peer holds (default 10000). */
      MEMORY_MAX_KEYS?: string;
      /** Most tasks answered per hour (default 10000), cache hits included. */
      TASKS_PER_HOUR?: string;
      /** Milliseconds an answered write's commit waits for a counter call to carry it (default 20). */
      QUOTA_CARRY_MS?: string;
    }
  }
}

export const DEFAULT_STORAGE_LIMIT_MB = 51200;
export const DEFAULT_MEMORY_MAX_KEYS = 10000;
export const DEFAULT_TASKS_PER_HOUR = 10000;
export const DEFAULT_QUOTA_CARRY_MS = 20;

/** How long a counted total is trusted before it is counted again. */
const FRESH_MS = 30_000;

interface Tally {
  value: number;
  at: number;
  /** Memory keys written by this isolate since the count: writing one again adds no key. */
  written?: Set<string>;
}

/**
 * Soft quotas (memory keys, tasks; storage is exact, see `changeFiles`) that cost no storage
 * round trip on the common path: the total is counted
 * (an R2 or KV listing) at most every 30 s per isolate and bumped by each write in between;
 * only a write that would cross the limit is checked against a fresh count. Concurrent
 * writes on other isolates can overshoot by what they write within that window.
 */
const tallies = new Map<string, Tally>();

async function tally(id: string, count: () => Promise<number>, fresh = false): Promise<Tally> {
  const known = tallies.get(id);
  if (known && !fresh && Date.now() - known.at < FRESH_MS) return known;
  const counted = { value: await count(), at: Date.now() };
  tallies.set(id, counted);
  return counted;
}

/** How long a reservation of a single request lives: 10 minutes plus its bytes at 1 MiB/s. */
const requestTtl = (bytes: number) => 600_000 + Math.ceil(bytes / 1048.576);
/** A multipart upload's parts stay reserved this long after its last part (then it counts as abandoned). */
export const UPLOAD_RESERVATION_MS = 24 * 3600_000;

/** The peer's one quota counter (binding `QUOTA`, one Durable Object per `PEER_NAME`). */
const counterOf = (env: PeerEnv) => env.QUOTA.get(env.QUOTA.idFromName(env.PEER_NAME));

const storageLimit = (env: PeerEnv) => intVar(env.STORAGE_LIMIT_MB, DEFAULT_STORAGE_LIMIT_MB) * 1024 * 1024;

/** Counter keys are digests: a file name or upload id (user input) never becomes a key. */
const digestOf = (kind: string, value: string) => sha256Hex(`${kind}\0${value}`);

/**
 * Commits of answered writes not yet sent, per counter (peer name), in this isolate: the next
 * `reserve` from the isolate carries them as data (no promise or stub crosses requests), so a
 * busy isolate pays one call per write instead of two. Until a commit is applied its
 * reservation and names stay held: the count stays exact, it only settles a little later.
 */
const unsent = new Map<string, Map<string, CarriedCommit>>();
/** How long an answered write's commit waits for a reservation to carry it before it goes alone. */
const carryMs = (env: PeerEnv) => intVar(env.QUOTA_CARRY_MS, DEFAULT_QUOTA_CARRY_MS);

/** The commits waiting in this isolate for a call to carry them, taken (undefined when none). */
function takeUnsent(env: PeerEnv): CarriedCommit[] | undefined {
  const waiting = unsent.get(env.PEER_NAME);
  if (!waiting?.size) return undefined;
  const commits = [...waiting.values()];
  waiting.clear();
  return commits;
}

/** Puts commits back to wait for the isolate's next call (sending one twice is harmless: the counter applies it once). */
function putBack(env: PeerEnv, commits: CarriedCommit[]): void {
  const waiting = unsent.get(env.PEER_NAME) ?? new Map<string, CarriedCommit>();
  unsent.set(env.PEER_NAME, waiting);
  for (const commit of commits) if (!waiting.has(commit.id)) waiting.set(commit.id, commit);
}

/**
 * Makes a counter call carrying the isolate's unsent commits. If it fails (the object
 * overloaded or reset), the commits may or may not have been applied: they are sent again
 * alone, once, and if that fails too they wait for the isolate's next call. Never lost while
 * the isolate lives, never counted twice (the counter applies a reservation's commit once).
 */
async function carrying<T>(env: PeerEnv, call: (commits: CarriedCommit[] | undefined) => Promise<T>): Promise<T> {
  const commits = takeUnsent(env);
  try {
    return await call(commits);
  } catch (err) {
    if (commits) {
      try {
        await counterOf(env).commitAll(commits);
      } catch {
        putBack(env, commits);
      }
    }
    throw err;
  }
}

/** Reserves `bytes` in the counter or throws 413; returns the reservation's id. */
async function reserve(env: PeerEnv, request: Omit<ReserveRequest, "limit" | "ttlMs" | "commits">): Promise<string> {
  const limit = storageLimit(env);
  const answer = await carrying<ReserveAnswer>(env, (commits) =>
    counterOf(env).reserve({ ...request, limit, ttlMs: requestTtl(request.bytes), ...(commits && { commits }) }),
  );
  if ("refused" in answer) {
    const { used, reserved } = answer.refused;
    throw new HttpError(
      "payload_too_large",
      `This peer's storage quota is ${limit} bytes (STORAGE_LIMIT_MB): ${used} are stored and ${reserved} reserved by uploads in flight, so ${request.bytes} more do not fit.`,
    );
  }
  return answer.id;
}

/** Runs a settle call on the counter; if it fails, the reservation expires and the counter recounts. */
async function settle(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    console.error(`quota: ${what} failed, the reservation will expire: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** What a change to stored files reserves. */
export interface FileChange {
  /** Every file name the change may create, replace or delete: held for it alone until it settles. */
  names: string[];
  /** Bytes it may add before anything it replaces is freed (a PUT: its length; a delete: 0). */
  bytes: number;
  /** The multipart upload whose part reservations the change settles (`complete`). */
  completes?: string;
  /**
   * Keeps the commit of a successful write going after the answer (`ctx.waitUntil`), carried
   * by the isolate's next reservation when one comes within 20 ms. Still exact: until the
   * commit lands, the reservation (≥ the real delta) stays counted and the names stay held,
   * so no other change sees room or a size the commit would take back.
   */
  defer?: (settling: Promise<void>) => void;
}

/**
 * Runs `write` — any change to the files `change.names` (PUT, pull, complete, delete, copy,
 * move, WebDAV) — inside the storage quota, exactly under any concurrency:
 * reserves `change.bytes` first (413 `payload_too_large` if used + reserved would cross
 * `STORAGE_LIMIT_MB`), holds the names so no other change to them interleaves, reads their
 * heads (handed to `write` in the order of `change.names`: a put need not read its own), runs
 * `write`, and commits the real delta (sizes after − sizes before), also when `write` throws.
 * `sizeAfter` saves the read after a write that knows the names' total size (a PUT's answer;
 * a batch of pulls, from each name's size before, in `change.names` order).
 */
export async function changeFiles<T>(
  env: PeerEnv,
  files: FileStore,
  change: FileChange,
  write: (before: (R2Object | null)[]) => Promise<T>,
  sizeAfter?: (result: T, sizesBefore: number[]) => number | Promise<number>,
): Promise<T> {
  const locks = await Promise.all(change.names.map((name) => digestOf("name", name)));
  const id = await reserve(env, { bytes: change.bytes, locks });
  const heads = () => Promise.all(change.names.map((name) => files.stat(name)));
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
  const sizesOf = (list: (R2Object | null)[]) => list.map((head) => head?.size ?? 0);
  const total = async () => sum(sizesOf(await heads()));
  let headsBefore: (R2Object | null)[];
  let sizesBefore: number[];
  let before: number;
  try {
    headsBefore = await heads();
    sizesBefore = sizesOf(headsBefore);
    before = sum(sizesBefore);
  } catch (err) {
    await settle("release", () => counterOf(env).release(id));
    throw err;
  }
  let result: T;
  try {
    result = await write(headsBefore);
  } catch (err) {
    // A failed write may still have changed something (a completed upload that failed its check).
    await settle("commit", async () => counterOf(env).commit(id, (await total()) - before));
    throw err;
  }
  const commit = settle("commit", async () => {
    const completes = change.completes === undefined ? undefined : await digestOf("upload", change.completes);
    const delta = (sizeAfter ? await sizeAfter(result, sizesBefore) : await total()) - before;
    if (!change.defer) return counterOf(env).commit(id, delta, completes);
    // Answered already: let the isolate's next reservation carry it, else send it alone.
    const carried: CarriedCommit = { id, delta, ...(completes !== undefined && { settleGroup: completes }) };
    putBack(env, [carried]);
    await new Promise((resolve) => setTimeout(resolve, carryMs(env)));
    if (!unsent.get(env.PEER_NAME)?.delete(id)) return;
    try {
      await counterOf(env).commit(id, delta, completes);
    } catch (err) {
      // Not lost: the isolate's next call carries it.
      putBack(env, [carried]);
      throw err;
    }
  });
  if (change.defer) change.defer(commit);
  else await commit;
  return result;
}

/**
 * Runs `write`, the upload of part `part` (`bytes` long) of multipart upload `uploadId`,
 * with its bytes reserved (413 when they do not fit). A stored part stays reserved until the
 * upload completes (`changeFiles` with `completes`) or aborts (`abortedUpload`), or 24 h
 * after the upload's last part.
 */
export async function storePart<T>(env: PeerEnv, uploadId: string, part: number, bytes: number, write: () => Promise<T>): Promise<T> {
  const group = await digestOf("upload", uploadId);
  const id = await reserve(env, { bytes, group, part });
  let result: T;
  try {
    result = await write();
  } catch (err) {
    await settle("release", () => counterOf(env).release(id));
    throw err;
  }
  await settle("keep", () => counterOf(env).keepPart(id, UPLOAD_RESERVATION_MS));
  return result;
}

/** Frees the parts of an aborted multipart upload. */
export async function abortedUpload(env: PeerEnv, uploadId: string): Promise<void> {
  const group = await digestOf("upload", uploadId);
  await settle("release", () => counterOf(env).releaseGroup(group));
}

/**
 * The storage quota as a copy, a move or a folder delete counts against it: every byte copied
 * counts like an upload, exactly (`changeFiles` holds the destination name); a batch delete
 * frees the listed sizes.
 */
export function fileQuota(env: PeerEnv, files: FileStore): Quota {
  return {
    change: (names, bytes, write) => changeFiles(env, files, { names, bytes }, write),
    // No names are held for a batch of up to 1000: the sizes listed are what it frees.
    freed: (bytes, write) => changeFiles(env, files, { names: [], bytes: 0 }, write, () => -bytes),
  };
}

/** Bytes stored and reserved, as the counter knows them. */
export function storageUsage(env: PeerEnv): Promise<QuotaUsage> {
  return carrying<QuotaUsage>(env, (commits) => counterOf(env).usage(commits));
}

/** Most keys remembered as written per count (a key is at most 480 bytes). */
const WRITTEN_MAX = 1024;

/**
 * Refuses (413) a new memory key past `MEMORY_MAX_KEYS`; overwriting an existing key is always
 * allowed. Call the function it returns once the value is stored: the key is then known to
 * exist until the next count, and writing it again neither bumps the tally nor, at the limit,
 * costs a KV read to tell an overwrite from a new key. (A key that expires or is deleted
 * elsewhere meanwhile only leaves the tally high, which errs on the side of counting again.)
 */
export async function reserveMemoryKey(env: PeerEnv, memory: MemoryStore, key: string): Promise<() => void> {
  const limit = intVar(env.MEMORY_MAX_KEYS, DEFAULT_MEMORY_MAX_KEYS);
  const id = `memory:${env.PEER_NAME}`;
  const count = () => memory.count();
  let keys = await tally(id, count);
  const written = (t: Tally) => () => {
    t.written ??= new Set();
    if (t.written.size < WRITTEN_MAX) t.written.add(key);
  };
  if (keys.written?.has(key)) return () => {};
  if (keys.value >= limit) {
    if (await memory.has(key)) return written(keys);
    keys = await tally(id, count, true);
    if (keys.value >= limit) {
      throw new HttpError(
        "payload_too_large",
        `This peer holds its limit of ${limit} memory keys (MEMORY_MAX_KEYS); delete some or raise the limit.`,
      );
    }
  }
  keys.value++;
  return written(keys);
}

/** Forgets the memory-key tally after a delete. */
export function releaseMemoryKey(env: PeerEnv): void {
  tallies.delete(`memory:${env.PEER_NAME}`);
}

/**
 * Refuses (429, `Retry-After`) `count` more tasks when the peer has answered `TASKS_PER_HOUR`
 * in the last hour, cache hits included (history is bounded, so the count is kept apart:
 * `countTaskRuns`). `defer` keeps the count's write going after the answer (`waitUntil`).
 */
export async function reserveTaskRuns(env: PeerEnv, count: number, defer: (write: Promise<void>) => void): Promise<void> {
  const limit = intVar(env.TASKS_PER_HOUR, DEFAULT_TASKS_PER_HOUR);
  const id = `tasks:${env.PEER_NAME}`;
  const runs = () => taskRunsSince(env.KV, env.PEER_NAME, Date.now() - 3600_000);
  let used = await tally(id, runs);
  if (used.value + count > limit) used = await tally(id, runs, true);
  if (used.value + count > limit) {
    throw new HttpError(
      "too_many_requests",
      `This peer runs at most ${limit} tasks an hour (TASKS_PER_HOUR) and has run ${used.value}; try again later.`,
      { "retry-after": "60" },
    );
  }
  used.value += count;
  defer(countTaskRuns(env.KV, env.PEER_NAME, count));
}
