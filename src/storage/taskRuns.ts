import { taskRunsKey, taskRunsMinute, taskRunsPrefix } from "./keys";

/** Metadata of a minute's count: the count itself, so a listing reads every count. */
interface RunsMeta {
  n: number;
}

const MINUTE_MS = 60_000;
/** KV takes one write a second per key. */
const WRITE_EVERY_MS = 1000;
/** A minute's key outlives the hour it counts in. */
const KEY_TTL_SECONDS = 3720;

/**
 * This isolate's name in its keys: each isolate writes only its own, so no write races
 * another's. Chosen at first use (workerd allows no random values at global scope).
 */
let isolateName: string | undefined;
const isolate = () => (isolateName ??= [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0")).join(""));

/** This isolate's counts by peer (a key prefix) and minute: how many tasks, and how many of them are in KV. */
const counts = new Map<string, Map<number, { count: number; written: number }>>();
const minutesOf = (prefix: string) => {
  let minutes = counts.get(prefix);
  if (!minutes) counts.set(prefix, (minutes = new Map()));
  return minutes;
};
let lastWrite = 0;

/**
 * Counts `n` tasks answered now (runs and cache hits alike) for `TASKS_PER_HOUR`. The count
 * is written (one `put` of this isolate's key for the minute) at most once a second; hand the
 * promise to `waitUntil`. Each request waits on its own timer, then writes if nobody has
 * since (workerd refuses a promise of one request resolved from another's context).
 */
export async function countTaskRuns(kv: KVNamespace, peer: string, n: number, now = Date.now()): Promise<void> {
  const prefix = taskRunsPrefix(peer);
  const minutes = minutesOf(prefix);
  const minute = Math.floor(now / MINUTE_MS);
  const counted = minutes.get(minute) ?? { count: 0, written: 0 };
  counted.count += n;
  minutes.set(minute, counted);
  const wait = lastWrite + WRITE_EVERY_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const writes: Promise<void>[] = [];
  for (const [m, c] of minutes) {
    if (m < minute - 60) minutes.delete(m);
    if (c.written === c.count) continue;
    c.written = c.count;
    lastWrite = Date.now();
    const metadata: RunsMeta = { n: c.count };
    writes.push(kv.put(taskRunsKey(prefix, m, isolate()), String(c.count), { expirationTtl: KEY_TTL_SECONDS, metadata }));
  }
  await Promise.all(writes).catch((err: unknown) =>
    console.error("task count write failed:", err instanceof Error ? err.message : String(err)),
  );
}

/** Tasks a peer answered, on every isolate, since `sinceMs` (whole minutes: errs on the side of more). */
export async function taskRunsSince(kv: KVNamespace, peer: string, sinceMs: number): Promise<number> {
  const prefix = taskRunsPrefix(peer);
  const minutes = minutesOf(prefix);
  const since = Math.floor(sinceMs / MINUTE_MS);
  let total = 0;
  let cursor: string | undefined;
  listing: do {
    const page = await kv.list<RunsMeta>({ prefix, cursor });
    for (const { name, metadata } of page.keys) {
      const minute = taskRunsMinute(prefix, name);
      if (minute < since) break listing;
      total += metadata?.n ?? 0;
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  // What this isolate has counted and not yet written.
  for (const [m, c] of minutes) if (m >= since) total += c.count - c.written;
  return total;
}
