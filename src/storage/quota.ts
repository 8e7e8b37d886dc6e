import { intVar } from "../config";
import type { PeerEnv } from "../env";
import { HttpError } from "../http/errors";
import type { FileStore } from "./files";
import type { TaskHistory } from "./history";
import type { MemoryStore } from "./memory";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Storage quota of the bucket in MiB (default 51200 = 50 GiB). */
      STORAGE_LIMIT_MB?: string;
      /** Most memory keys the peer holds (default 10000). */
      MEMORY_MAX_KEYS?: string;
      /** Most tasks run in the sandbox per hour (default 10000); cache hits do not count. */
      TASKS_PER_HOUR?: string;
    }
  }
}

export const DEFAULT_STORAGE_LIMIT_MB = 51200;
export const DEFAULT_MEMORY_MAX_KEYS = 10000;
export const DEFAULT_TASKS_PER_HOUR = 10000;

/** How long a counted total is trusted before it is counted again. */
const FRESH_MS = 30_000;

interface Tally {
  value: number;
  at: number;
  /** Memory keys written by this isolate since the count: writing one again adds no key. */
  written?: Set<string>;
}

/**
 * Soft quotas that cost no storage round trip on the common path: the total is counted
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

/** Refuses (413) a write of `incoming` bytes that would take the bucket past `STORAGE_LIMIT_MB`. */
export async function reserveStorage(env: PeerEnv, files: FileStore, incoming: number): Promise<void> {
  const limit = intVar(env.STORAGE_LIMIT_MB, DEFAULT_STORAGE_LIMIT_MB) * 1024 * 1024;
  const id = `storage:${env.PEER_NAME}`;
  const count = async () => (await files.usage()).bytes;
  let used = await tally(id, count);
  if (used.value + incoming > limit) used = await tally(id, count, true);
  if (used.value + incoming > limit) {
    throw new HttpError(
      "payload_too_large",
      `This peer's storage quota is ${limit} bytes (STORAGE_LIMIT_MB) and ${used.value} are used; ${incoming} more do not fit.`,
    );
  }
  used.value += incoming;
}

/** Forgets the storage tally after a delete, so freed room is seen at once. */
export function releaseStorage(env: PeerEnv): void {
  tallies.delete(`storage:${env.PEER_NAME}`);
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
 * Refuses (429, `Retry-After`) `count` more tasks when the peer has run `TASKS_PER_HOUR` in
 * the last hour. Counted from history (runs, not cache hits); between counts every task of
 * this isolate is bumped, hits included, so the check errs on the side of refusing.
 */
export async function reserveTaskRuns(env: PeerEnv, history: TaskHistory, count: number): Promise<void> {
  const limit = intVar(env.TASKS_PER_HOUR, DEFAULT_TASKS_PER_HOUR);
  const id = `tasks:${env.PEER_NAME}`;
  const runs = () => history.runsSince(Date.now() - 3600_000);
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
}
