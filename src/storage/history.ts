import { badRequest } from "../http/errors";
import { deleteAllUnder } from "./cache";
import { KV_PREFIX, historyKey } from "./keys";
import { historyWrites } from "./pending";
import { taskIdTime } from "../tasks/ids";

export type TaskStatus = "succeeded" | "failed";

/** One task as history keeps it: `GET /api/tasks/{id}`. */
export interface TaskRecord {
  id: string;
  status: TaskStatus;
  function: string;
  program: string;
  args: unknown[];
  /** Present when the task succeeded. */
  result?: unknown;
  /** Present when the task failed. */
  error?: string;
  cached: boolean;
  durationMs: number;
  /** ISO time the task was received. */
  createdAt: string;
  /** Name of the peer that ran it. */
  peer: string;
}

/** One line of `GET /api/tasks`: the record without program and arguments, result and error cut short. */
export interface TaskSummary {
  id: string;
  status: TaskStatus;
  function: string;
  durationMs: number;
  cached: boolean;
  createdAt: string;
  /** The result's JSON text, cut to `SUMMARY_CHARS`; null for a failed task. */
  result: string | null;
  error: string | null;
}

/** Task counters for `GET /api/stats`. */
export interface TaskStats {
  total: number;
  succeeded: number;
  failed: number;
  cached: number;
  avgDurationMs: number;
}

/** Characters of result or error kept in a summary. */
export const SUMMARY_CHARS = 200;
/** KV's limit on a key's metadata, as serialised JSON. */
const METADATA_BYTES = 1024;

/** A summary as KV metadata, with short names to stay under KV's 1024 bytes. */
interface SummaryMeta {
  s: TaskStatus;
  f: string;
  d: number;
  c: boolean;
  t: string;
  r?: string;
  e?: string;
}

const encoder = new TextEncoder();

/** Most `list` calls one filtered page may take before it answers with what it found. */
const FILTER_LISTS = 10;

/**
 * Task history on KV: one key per record, `hist:<id>`, whose value is the whole record and
 * whose metadata is its summary. Task ids count down, so keys list newest first and a page
 * of history is one `list`. Keys expire after `ttlSeconds` (`HISTORY_TTL`).
 */
export class TaskHistory {
  constructor(
    private readonly kv: KVNamespace,
    private readonly ttlSeconds: number,
  ) {}

  /** Records a task; reads in this isolate wait for the write (see `PendingWrites`). */
  add(record: TaskRecord): Promise<void> {
    const metadata = summaryMeta(record);
    const options = { expirationTtl: this.ttlSeconds, metadata };
    return historyWrites.track(this.kv.put(historyKey(record.id), JSON.stringify(record), options));
  }

  /** The whole record, or null. */
  async get(id: string): Promise<TaskRecord | null> {
    await historyWrites.settled();
    return this.kv.get<TaskRecord>(historyKey(id), "json");
  }

  /**
   * A page of summaries, newest first. Unfiltered, one `list`. With `status`, each `list`
   * reads only as many keys as the page still lacks (so it never overshoots `limit`), up to
   * `FILTER_LISTS` calls: a filtered page may hold fewer than `limit` while more remain.
   */
  async list(opts: { limit: number; cursor?: string; status?: TaskStatus }): Promise<{ tasks: TaskSummary[]; cursor: string | null }> {
    await historyWrites.settled();
    const tasks: TaskSummary[] = [];
    let cursor = opts.cursor;
    for (let calls = 0; calls < FILTER_LISTS && tasks.length < opts.limit; calls++) {
      const page = await this.page(opts.limit - tasks.length, cursor);
      for (const k of page.keys) {
        if (k.metadata && (!opts.status || k.metadata.s === opts.status)) {
          tasks.push(fromMeta(k.name.slice(KV_PREFIX.history.length), k.metadata));
        }
      }
      cursor = page.list_complete ? undefined : page.cursor;
      if (!cursor || !opts.status) break;
    }
    return { tasks, cursor: cursor ?? null };
  }

  private page(limit: number, cursor: string | undefined): Promise<KVNamespaceListResult<SummaryMeta>> {
    return this.kv.list<SummaryMeta>({ prefix: KV_PREFIX.history, limit, cursor }).catch((err: unknown) => {
      if (cursor) throw badRequest("The cursor is not one this listing issued.");
      throw err;
    });
  }

  /**
   * Tasks run in the sandbox (not answered from the cache) since `sinceMs`. Ids count down
   * in time, so the listing stops at the first older record.
   */
  async runsSince(sinceMs: number): Promise<number> {
    await historyWrites.settled();
    let runs = 0;
    let cursor: string | undefined;
    do {
      const page = await this.kv.list<SummaryMeta>({ prefix: KV_PREFIX.history, cursor });
      for (const { name, metadata } of page.keys) {
        if (taskIdTime(name.slice(KV_PREFIX.history.length)) < sinceMs) return runs;
        if (metadata && !metadata.c) runs++;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return runs;
  }

  /** Forgets every task. */
  async clear(): Promise<void> {
    await historyWrites.settled();
    await deleteAllUnder(this.kv, KV_PREFIX.history);
  }

  /** Counters over the whole history (reads summaries only, 1000 per `list`). */
  async stats(): Promise<TaskStats> {
    await historyWrites.settled();
    const stats: TaskStats = { total: 0, succeeded: 0, failed: 0, cached: 0, avgDurationMs: 0 };
    let duration = 0;
    let cursor: string | undefined;
    do {
      const page = await this.kv.list<SummaryMeta>({ prefix: KV_PREFIX.history, cursor });
      for (const { metadata: m } of page.keys) {
        if (!m) continue;
        stats.total++;
        stats[m.s]++;
        if (m.c) stats.cached++;
        duration += m.d;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    stats.avgDurationMs = stats.total ? Math.round((duration / stats.total) * 100) / 100 : 0;
    return stats;
  }
}

/** Task counters for `GET /api/stats`, counted from the history. */
export function taskStats(kv: KVNamespace): Promise<TaskStats> {
  return new TaskHistory(kv, 0).stats();
}

function summaryMeta(record: TaskRecord): SummaryMeta {
  const meta: SummaryMeta = {
    s: record.status,
    f: record.function,
    d: record.durationMs,
    c: record.cached,
    t: record.createdAt,
  };
  const text = record.status === "succeeded" ? JSON.stringify(record.result) : (record.error ?? "");
  const field = record.status === "succeeded" ? "r" : "e";
  // Escapes and multi-byte characters can push 200 characters past KV's limit: cut further.
  for (let chars = SUMMARY_CHARS; chars >= 0; chars -= 20) {
    meta[field] = text.slice(0, chars);
    if (encoder.encode(JSON.stringify(meta)).byteLength <= METADATA_BYTES) return meta;
  }
  meta[field] = "";
  return meta;
}

function fromMeta(id: string, m: SummaryMeta): TaskSummary {
  return {
    id,
    status: m.s,
    function: m.f,
    durationMs: m.d,
    cached: m.c,
    createdAt: m.t,
    result: m.s === "succeeded" ? (m.r ?? "") : null,
    error: m.s === "failed" ? (m.e ?? "") : null,
  };
}
