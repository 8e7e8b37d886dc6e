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

  /** Resolves once every write started so far has finished. */
  async settled(): Promise<void> {
    while (this.open.size) await Promise.all([...this.open]);
  }
}

/** This isolate's writes to the task history. */
export const historyWrites = new PendingWrites();
/** This isolate's writes to the result cache. */
export const cacheWrites = new PendingWrites();
