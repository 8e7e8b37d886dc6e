/**
 * Writes this isolate has started and not yet finished. Task answers do not wait for their
 * history and cache writes (they go to `waitUntil`); reads of history and cache in the same
 * isolate wait for them first, so a client sees its own tasks. Across isolates KV is
 * eventually consistent anyway.
 */
export class PendingWrites {
  private readonly open = new Set<Promise<void>>();

  /** Tracks a write; the returned promise never rejects (a failed write is logged). */
  track(write: Promise<unknown>): Promise<void> {
    const done: Promise<void> = write
      .then(
        () => undefined,
        (err: unknown) => console.error("deferred KV write failed:", err instanceof Error ? err.message : String(err)),
      )
      .finally(() => this.open.delete(done));
    this.open.add(done);
    return done;
  }

  /**
   * Resolves once every write started so far has finished. It polls on this request's own
   * timers rather than awaiting the writes: they belong to other requests, and workerd cancels
   * a continuation that another request's context resolves (which hung waiting readers).
   */
  async settled(): Promise<void> {
    await until(() => this.open.size === 0);
  }
}

/** This isolate's writes to the task history. */
export const historyWrites = new PendingWrites();
/** This isolate's writes to the result cache. */
export const cacheWrites = new PendingWrites();

/** Most a request waits for another request's deferred write before it reads anyway. */
const SETTLE_MAX_MS = 10_000;

/** Resolves when `done()` holds, checked every few ms on this request's timers (at most `SETTLE_MAX_MS`). */
export async function until(done: () => boolean): Promise<void> {
  for (let waited = 0, step = 1; !done() && waited < SETTLE_MAX_MS; waited += step, step = Math.min(step * 2, 20)) {
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}
