import { badRequest } from "../http/errors";
import { deleteAllUnder } from "./cache";
import { KV_PREFIX, historyKey, programKey } from "./keys";
import { historyWrites, until } from "./pending";

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
  /** Characters of the key's value, and the SHA-256 of the program it refers to (`StoredProgram`). */
  z?: number;
  p?: string;
}

/**
 * Metadata of a key that holds several cache hits (see `HitBatch`): how many, the sum of
 * their durations, and the oldest one's id (the key is named by the newest one's).
 */
interface BatchMeta {
  b: number;
  d: number;
  o: string;
  z?: number;
  p?: string;
}

/** Metadata of a kept program: its characters and when it was last written (ms). */
interface ProgramMeta {
  z: number;
  t: number;
}

/** How much history a peer keeps (`HISTORY_MAX_RECORDS`, `HISTORY_MAX_MB`); older records are deleted. */
export interface HistoryBounds {
  records: number;
  /** Characters of the records' values and of the programs they refer to. */
  bytes: number;
}

export const DEFAULT_HISTORY_BOUNDS: HistoryBounds = { records: 1000, bytes: 64 * 1024 * 1024 };

/** Programs longer than this are kept once, under `prog:<sha256>`, and records refer to them. */
export const PROGRAM_INLINE_CHARS = 4096;
/** A program written this recently by this isolate is not written again. */
const PROGRAM_REWRITE_MS = 60_000;
/** A program no kept record refers to is deleted once it is this old (a record may be on its way). */
const PROGRAM_GRACE_MS = 5 * 60_000;

/** A record as stored: a long program replaced by its SHA-256. */
type StoredRecord = Omit<TaskRecord, "program"> & { program?: string; programSha256?: string };

type KeyMeta = SummaryMeta | BatchMeta;
const isBatch = (m: KeyMeta | null | undefined): m is BatchMeta => !!m && "b" in m;

const encoder = new TextEncoder();

/** How long a batch of cache hits stays open before it is written. */
export const HIT_BATCH_MS = 100;
/** Most hits in one batch, and most characters of their records' JSON. */
export const HIT_BATCH_RECORDS = 100;
const HIT_BATCH_CHARS = 1024 * 1024;
/** A batch's ids share this many leading digits (a 100 ms window), so a member is found by `list({prefix})`. */
const BUCKET_DIGITS = 11;

/**
 * This isolate's open batch of cache-hit records, not yet written. Cache hits made close
 * together (a client repeating a task, a batch of identical tasks) are written as **one** KV
 * value instead of one each — a KV write per hit is most of what a hit costs. The batch is
 * written after `HIT_BATCH_MS`, when it is full, when a record that is not a hit is added,
 * when the next hit falls in another 100 ms window, and before any read of the history in
 * this isolate (so a client sees its own tasks at once, as with every deferred write).
 * One `put`: a batch is in KV whole or not at all.
 */
interface HitBatch {
  kv: KVNamespace;
  ttlSeconds: number;
  bucket: string;
  /** The program every record of the batch refers to, when kept apart. */
  programSha?: string;
  /** Oldest first (the order they were added; ids count down), and each one's JSON text. */
  records: StoredRecord[];
  texts: string[];
  chars: number;
  /** `Date.now()` by which the batch is written. */
  deadline: number;
  /** The write, once the batch is closed (a promise of the request that closed it). */
  written?: Promise<void>;
  /** Set once the write has finished, for requests that must not await another's promise. */
  done?: boolean;
}

let openBatch: HitBatch | null = null;

/** Records added by this isolate since its last prune, and their characters; whether one runs now. */
let addsSincePrune = 0;
let charsSincePrune = 0;
let pruning = false;
/** A prune follows at most this many adds (fewer when the bound is small), or a tenth of the byte bound. */
const PRUNE_EVERY_ADDS = 100;

/** Programs this isolate wrote lately, by SHA-256, with when (most recent last). */
const programsWritten = new Map<string, number>();
const PROGRAMS_REMEMBERED = 256;

/** Writes the open batch, if any; the returned promise (tracked in `historyWrites`) never rejects. */
function closeBatch(): Promise<void> {
  const batch = openBatch;
  if (!batch) return Promise.resolve();
  openBatch = null;
  const { kv, ttlSeconds } = batch;
  // Concurrent hits may join in another order than their ids: oldest (largest id) first.
  const order = batch.records.map((_, i) => i).sort((a, b) => (batch.records[b]!.id < batch.records[a]!.id ? -1 : 1));
  const records = order.map((i) => batch.records[i]!);
  const texts = order.map((i) => batch.texts[i]!);
  let write: Promise<void>;
  if (records.length === 1) {
    const record = records[0]!;
    const metadata = summaryMeta(record, texts[0]!.length, batch.programSha);
    write = kv.put(historyKey(record.id), texts[0]!, { expirationTtl: ttlSeconds, metadata });
  } else {
    const newest = records[records.length - 1]!;
    const value = `[${texts.reverse().join(",")}]`;
    const metadata: BatchMeta = {
      b: records.length,
      d: records.reduce((sum, r) => sum + r.durationMs, 0),
      o: records[0]!.id,
      z: value.length,
    };
    if (batch.programSha) metadata.p = batch.programSha;
    write = kv.put(historyKey(newest.id), value, { expirationTtl: ttlSeconds, metadata });
  }
  batch.written = historyWrites.track(write).then(() => {
    batch.done = true;
  });
  return batch.written;
}

/**
 * What a request that added a hit hands to `waitUntil`: its own timer to the batch's deadline,
 * then the batch's write — started by this request if nothing closed the batch before. (Each
 * request waits on its own timer: workerd refuses a promise made in one request being
 * resolved from another's context.)
 */
async function untilWritten(batch: HitBatch): Promise<void> {
  if (!batch.written) {
    const wait = batch.deadline - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Still open: this request writes it, in its own context.
    if (openBatch === batch) return closeBatch();
  }
  // Another request closed it: wait for its write on this request's timers, not its promise.
  await until(() => batch.done === true);
}

/** Writes this isolate's open batch, then waits for every history write it started. */
async function settled(): Promise<void> {
  void closeBatch();
  await historyWrites.settled();
}

/** What a history listing resumes from: a KV cursor, keys of that listing to skip, records of the next key to skip. */
interface Position {
  c: string | undefined;
  k: number;
  s: number;
}

/** A position as the cursor a page answers: KV's own cursor when it is at a key's start. */
function encodeCursor(at: Position): string {
  return at.k === 0 && at.s === 0 && at.c ? at.c : `~${at.k}~${at.s}~${at.c ?? ""}`;
}

function decodeCursor(cursor: string | undefined): Position {
  if (!cursor) return { c: undefined, k: 0, s: 0 };
  if (!cursor.startsWith("~")) return { c: cursor, k: 0, s: 0 };
  const m = /^~(\d{1,4})~(\d{1,4})~(.*)$/s.exec(cursor);
  if (!m || Number(m[1]) >= KV_LIST_MAX) throw badRequest("The cursor is not one this listing issued.");
  return { c: m[3] || undefined, k: Number(m[1]), s: Number(m[2]) };
}

/** Most keys one KV `list` returns. */
const KV_LIST_MAX = 1000;

/** Most `list` calls one filtered page may take before it answers with what it found. */
const FILTER_LISTS = 10;

/**
 * Task history on KV. Most keys hold one record, `hist:<id>`, whose value is the whole record
 * and whose metadata is its summary. Cache hits made close together in one isolate share a
 * key (see `HitBatch`): `hist:<newest id>`, whose value is their records newest first and
 * whose metadata is `BatchMeta`. Task ids count down, so keys list newest first. Keys expire
 * after `ttlSeconds` (`HISTORY_TTL`).
 */
export class TaskHistory {
  constructor(
    private readonly kv: KVNamespace,
    private readonly ttlSeconds: number,
    private readonly bounds: HistoryBounds = DEFAULT_HISTORY_BOUNDS,
  ) {}

  /**
   * Records a task; the promise resolves once it is written (hand it to `waitUntil`). Reads
   * in this isolate wait for the write (see `PendingWrites`). A cache hit joins this
   * isolate's open batch; anything else first closes it, so this isolate's records keep
   * their order. A program longer than `PROGRAM_INLINE_CHARS` comes with its SHA-256: it is
   * kept once under `prog:` and the record refers to it. Every so often the write is followed
   * by a `prune` to the bounds.
   */
  add(record: TaskRecord, programSha256?: string): Promise<void> {
    const programSha = record.program.length > PROGRAM_INLINE_CHARS ? programSha256 : undefined;
    const stored: StoredRecord = programSha ? { ...record, program: undefined, programSha256: programSha } : record;
    const text = JSON.stringify(stored);
    const kept = programSha ? this.keepProgram(programSha, record.program) : undefined;
    const written = Promise.all([kept, this.write(stored, text, programSha)]).then(() => undefined);
    addsSincePrune++;
    charsSincePrune += text.length;
    if (addsSincePrune >= Math.min(PRUNE_EVERY_ADDS, Math.ceil(this.bounds.records / 10)) || charsSincePrune >= this.bounds.bytes / 10) {
      addsSincePrune = 0;
      charsSincePrune = 0;
      return written.then(() => historyWrites.track(this.prune()));
    }
    return written;
  }

  private write(record: StoredRecord, text: string, programSha: string | undefined): Promise<void> {
    const bucket = record.id.slice(0, BUCKET_DIGITS);
    const open = openBatch;
    const closed =
      open &&
      (!record.cached ||
        open.kv !== this.kv ||
        open.ttlSeconds !== this.ttlSeconds ||
        open.bucket !== bucket ||
        open.programSha !== programSha)
        ? closeBatch()
        : undefined;
    if (!record.cached) {
      const metadata = summaryMeta(record, text.length, programSha);
      const options = { expirationTtl: this.ttlSeconds, metadata };
      const write = historyWrites.track(this.kv.put(historyKey(record.id), text, options));
      return closed ? Promise.all([closed, write]).then(() => undefined) : write;
    }
    openBatch ??= {
      kv: this.kv,
      ttlSeconds: this.ttlSeconds,
      bucket,
      ...(programSha ? { programSha } : {}),
      records: [],
      texts: [],
      chars: 0,
      deadline: Date.now() + HIT_BATCH_MS,
    };
    const batch = openBatch;
    batch.records.push(record);
    batch.texts.push(text);
    batch.chars += text.length;
    if (batch.records.length >= HIT_BATCH_RECORDS || batch.chars >= HIT_BATCH_CHARS) void closeBatch();
    const written = untilWritten(batch);
    return closed ? Promise.all([closed, written]).then(() => undefined) : written;
  }

  /** Writes a long program under its digest, unless this isolate did within `PROGRAM_REWRITE_MS`; it outlives the records that refer to it. */
  private keepProgram(sha: string, program: string): Promise<void> | undefined {
    const now = Date.now();
    const last = programsWritten.get(sha);
    if (last !== undefined && now - last < PROGRAM_REWRITE_MS) return undefined;
    if (programsWritten.size >= PROGRAMS_REMEMBERED) programsWritten.delete(programsWritten.keys().next().value!);
    programsWritten.set(sha, now);
    const metadata: ProgramMeta = { z: program.length, t: now };
    const expirationTtl = this.ttlSeconds + Math.ceil(PROGRAM_GRACE_MS / 1000);
    return historyWrites.track(this.kv.put(programKey(sha), program, { expirationTtl, metadata }));
  }

  /**
   * Deletes what is past the bounds: history keys newest first are kept while the records
   * (a batch counts its members) fit `bounds.records` and their values, with each program
   * they refer to counted once, fit `bounds.bytes`; every older key goes. Then programs no
   * kept record refers to, once `PROGRAM_GRACE_MS` old. Reads only listings (metadata).
   */
  async prune(now = Date.now()): Promise<void> {
    if (pruning) return;
    pruning = true;
    try {
      const programs = new Map<string, ProgramMeta>();
      for await (const { name, metadata } of this.keys<ProgramMeta>(KV_PREFIX.program)) {
        programs.set(name.slice(KV_PREFIX.program.length), metadata ?? { z: 0, t: 0 });
      }
      const referenced = new Set<string>();
      const doomed: string[] = [];
      let records = 0;
      let chars = 0;
      for await (const { name, metadata } of this.keys<KeyMeta>(KV_PREFIX.history)) {
        const count = isBatch(metadata) ? metadata.b : 1;
        const program = metadata?.p && !referenced.has(metadata.p) ? (programs.get(metadata.p)?.z ?? 0) : 0;
        const size = (metadata?.z ?? 0) + program;
        if (doomed.length > 0 || records + count > this.bounds.records || chars + size > this.bounds.bytes) {
          doomed.push(name);
          continue;
        }
        records += count;
        chars += size;
        if (metadata?.p) referenced.add(metadata.p);
      }
      for (const [sha, meta] of programs) {
        if (!referenced.has(sha) && now - meta.t > PROGRAM_GRACE_MS) doomed.push(programKey(sha));
      }
      for (let i = 0; i < doomed.length; i += 50) await Promise.all(doomed.slice(i, i + 50).map((k) => this.kv.delete(k)));
    } finally {
      pruning = false;
    }
  }

  private async *keys<M>(prefix: string): AsyncGenerator<{ name: string; metadata?: M }> {
    let cursor: string | undefined;
    do {
      const page = await this.kv.list<M>({ prefix, cursor });
      yield* page.keys;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  }

  /** The whole record, or null. */
  async get(id: string): Promise<TaskRecord | null> {
    await settled();
    const stored = await this.find(id);
    if (!stored) return null;
    const { programSha256, program, ...rest } = stored;
    if (program !== undefined || !programSha256) return { ...rest, program: program ?? "" };
    // Kept once for all the records of a long program (`keepProgram`).
    return { ...rest, program: (await this.kv.get(programKey(programSha256), "text")) ?? "" };
  }

  private async find(id: string): Promise<StoredRecord | null> {
    const direct = await this.kv.get<StoredRecord | StoredRecord[]>(historyKey(id), "json");
    if (direct) return Array.isArray(direct) ? (direct.find((r) => r.id === id) ?? null) : direct;
    // A member of a batch, under its newest member's id, within the same 100 ms window.
    let cursor: string | undefined;
    do {
      const page = await this.kv.list<KeyMeta>({ prefix: historyKey(id.slice(0, BUCKET_DIGITS)), cursor });
      for (const { name, metadata } of page.keys) {
        const newest = name.slice(KV_PREFIX.history.length);
        if (isBatch(metadata) && newest < id && id <= metadata.o) {
          const records = await this.kv.get<StoredRecord[]>(name, "json");
          return records?.find((r) => r.id === id) ?? null;
        }
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return null;
  }

  /**
   * A page of summaries, newest first. Each `list` reads only as many keys as the page still
   * lacks (so it never overshoots `limit`); a batch of hits is read (one `get`) and may be
   * cut, the cursor then pointing inside it. With `status`, up to `FILTER_LISTS` calls: a
   * filtered page may hold fewer than `limit` while more remain.
   */
  async list(opts: { limit: number; cursor?: string; status?: TaskStatus }): Promise<{ tasks: TaskSummary[]; cursor: string | null }> {
    await settled();
    const tasks: TaskSummary[] = [];
    let at: Position | null = decodeCursor(opts.cursor);
    for (let calls = 0; at && calls < FILTER_LISTS && tasks.length < opts.limit; calls++) {
      const from: Position = at;
      const page = await this.page(Math.min(KV_LIST_MAX, from.k + opts.limit - tasks.length), from.c);
      const next: Position | null = page.list_complete ? null : { c: page.cursor, k: 0, s: 0 };
      at = next;
      for (let i = from.k; i < page.keys.length; i++) {
        if (tasks.length >= opts.limit) {
          at = { c: from.c, k: i, s: 0 };
          break;
        }
        const { name, metadata } = page.keys[i]!;
        if (!isBatch(metadata)) {
          if (metadata && (!opts.status || metadata.s === opts.status))
            tasks.push(fromMeta(name.slice(KV_PREFIX.history.length), metadata));
          continue;
        }
        if (opts.status === "failed") continue; // a batch holds cache hits only
        const records = (await this.kv.get<TaskRecord[]>(name, "json")) ?? [];
        const skip = i === from.k ? from.s : 0;
        const take = Math.min(records.length - skip, opts.limit - tasks.length);
        for (const r of records.slice(skip, skip + take)) tasks.push(fromMeta(r.id, summaryMeta(r)));
        if (skip + take < records.length) {
          at = { c: from.c, k: i, s: skip + take };
          break;
        }
      }
      if (!opts.status) break;
    }
    return { tasks, cursor: at ? encodeCursor(at) : null };
  }

  private page(limit: number, cursor: string | undefined): Promise<KVNamespaceListResult<KeyMeta>> {
    return this.kv.list<KeyMeta>({ prefix: KV_PREFIX.history, limit, cursor }).catch((err: unknown) => {
      if (cursor) throw badRequest("The cursor is not one this listing issued.");
      throw err;
    });
  }

  /** Forgets every task. */
  async clear(): Promise<void> {
    await settled();
    await deleteAllUnder(this.kv, KV_PREFIX.history);
    await deleteAllUnder(this.kv, KV_PREFIX.program);
  }

  /** Counters over the whole history (reads summaries only, 1000 per `list`). */
  async stats(): Promise<TaskStats> {
    await settled();
    const stats: TaskStats = { total: 0, succeeded: 0, failed: 0, cached: 0, avgDurationMs: 0 };
    let duration = 0;
    let cursor: string | undefined;
    do {
      const page = await this.kv.list<KeyMeta>({ prefix: KV_PREFIX.history, cursor });
      for (const { metadata: m } of page.keys) {
        if (!m) continue;
        if (isBatch(m)) {
          stats.total += m.b;
          stats.succeeded += m.b;
          stats.cached += m.b;
          duration += m.d;
          continue;
        }
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

function summaryMeta(record: StoredRecord, chars?: number, programSha?: string): SummaryMeta {
  const meta: SummaryMeta = {
    s: record.status,
    f: record.function,
    d: record.durationMs,
    c: record.cached,
    t: record.createdAt,
  };
  if (chars !== undefined) meta.z = chars;
  if (programSha) meta.p = programSha;
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
