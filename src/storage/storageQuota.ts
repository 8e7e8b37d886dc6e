import { DurableObject } from "cloudflare:workers";
import type { PeerEnv } from "../env";
import { FileStore } from "./files";

/** What `reserve` asks for. Keys (`locks`, `group`) are fixed-length digests, never user input. */
export interface ReserveRequest {
  /** Bytes that may be written; 0 for a change that only frees or replaces (a delete, a complete). */
  bytes: number;
  /** The quota in bytes: a reservation that would take used + reserved past it is refused. */
  limit: number;
  /** Milliseconds the reservation lives unless settled (a crashed writer cannot hold room forever). */
  ttlMs: number;
  /** Digests of the file names the change replaces: held exclusively until it settles. */
  locks?: string[];
  /** A multipart upload (digest of its id) the bytes belong to, and the part number. */
  group?: string;
  part?: number;
}

export type ReserveAnswer = { id: string } | { refused: { used: number; reserved: number } };

/** The counter as `usage` reports it. */
export interface QuotaUsage {
  /** Bytes of the files stored (counted from R2 once, kept by every commit since). */
  used: number;
  /** Bytes reserved by writes in flight and multipart parts not yet completed. */
  reserved: number;
  /** Reservations in flight (including 0-byte ones holding a name). */
  reservations: number;
  /** True when a reservation expired unsettled: the next idle moment recounts R2. */
  doubt: boolean;
}

/** How often an alarm looks for an idle moment to recount a doubtful counter. */
const RECHECK_MS = 60_000;

/**
 * The one counter of a peer's storage quota (binding `QUOTA`, one instance per peer, named by
 * `PEER_NAME`). A Durable Object runs one request at a time, so `reserve` is exact under any
 * concurrency: room is checked against bytes stored plus every reservation in flight. A writer
 * reserves before streaming, then commits the real change (bytes after − bytes before, both
 * read while it holds the file's name) or releases on failure. docs/storage.md explains how
 * the count stays true.
 */
export class StorageQuota extends DurableObject<PeerEnv> {
  private readonly sql: SqlStorage;
  /** Callers waiting for a name another change holds, woken when it settles. */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(ctx: DurableObjectState, env: PeerEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), used INTEGER NOT NULL, doubt INTEGER NOT NULL DEFAULT 0)`,
      );
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, bytes INTEGER NOT NULL, expires INTEGER NOT NULL, grp TEXT, part INTEGER, kept INTEGER NOT NULL DEFAULT 0)`,
      );
      this.sql.exec(`CREATE INDEX IF NOT EXISTS reservations_grp ON reservations (grp, part)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS locks_holder ON locks (holder)`);
      // First use: the bucket as it is now. Every write after this goes through reserve/commit.
      if (this.sql.exec(`SELECT used FROM counter`).toArray().length === 0) {
        const { bytes } = await new FileStore(this.env.FILES, this.env.KV).usage();
        this.sql.exec(`INSERT INTO counter (id, used) VALUES (1, ?)`, bytes);
      }
    });
  }

  /**
   * Reserves room for a change: waits while another change holds one of its `locks`, then
   * refuses (with the counts) when `bytes` do not fit, else records the reservation.
   */
  async reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    const locks = [...new Set(request.locks ?? [])];
    for (;;) {
      this.expire();
      const busy = locks.find((name) => this.sql.exec(`SELECT 1 FROM locks WHERE name = ?`, name).toArray().length > 0);
      if (!busy) break;
      await this.waitFor(busy);
    }
    const { used, reserved } = this.totals();
    if (request.bytes > 0 && used + reserved + request.bytes > request.limit) return { refused: { used, reserved } };
    const id = crypto.randomUUID();
    this.sql.exec(
      `INSERT INTO reservations (id, bytes, expires, grp, part) VALUES (?, ?, ?, ?, ?)`,
      id,
      request.bytes,
      Date.now() + request.ttlMs,
      request.group ?? null,
      request.part ?? null,
    );
    for (const name of locks) this.sql.exec(`INSERT INTO locks (name, holder) VALUES (?, ?)`, name, id);
    return { id };
  }

  /**
   * Settles reservation `id`: the change is done and stored bytes moved by `delta` (which may
   * be negative). `settleGroup` also drops the multipart upload whose parts it completed.
   */
  commit(id: string, delta: number, settleGroup?: string): void {
    const known = this.drop(id);
    // A commit after the reservation expired: its bytes are real, but the recount may have missed them.
    if (!known) this.doubt();
    if (settleGroup) this.sql.exec(`DELETE FROM reservations WHERE grp = ? AND kept = 1`, settleGroup);
    this.sql.exec(`UPDATE counter SET used = MAX(0, used + ?)`, delta);
  }

  /** Settles reservation `id` with nothing stored (the write failed or was refused). */
  release(id: string): void {
    this.drop(id);
  }

  /**
   * A multipart part is stored: its reservation now holds the part's bytes until the upload
   * completes or aborts, replacing an earlier upload of the same part number, and every part
   * of the upload lives `ttlMs` from now (an upload in use does not expire).
   */
  keepPart(id: string, ttlMs: number): void {
    const row = this.sql.exec<{ grp: string; part: number }>(`SELECT grp, part FROM reservations WHERE id = ?`, id).toArray()[0];
    if (!row) return;
    this.sql.exec(`DELETE FROM reservations WHERE grp = ? AND part = ? AND kept = 1 AND id != ?`, row.grp, row.part, id);
    this.sql.exec(`UPDATE reservations SET kept = 1 WHERE id = ?`, id);
    this.sql.exec(`UPDATE reservations SET expires = ? WHERE grp = ? AND kept = 1`, Date.now() + ttlMs, row.grp);
  }

  /** Drops every reservation of a multipart upload (aborted: R2 discarded its parts). */
  releaseGroup(group: string): void {
    this.sql.exec(`DELETE FROM reservations WHERE grp = ? AND kept = 1`, group);
  }

  /** The counter now. */
  usage(): QuotaUsage {
    this.expire();
    const { used, reserved } = this.totals();
    const reservations = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM reservations`).one().n;
    const doubt = this.sql.exec<{ doubt: number }>(`SELECT doubt FROM counter`).one().doubt === 1;
    return { used, reserved, reservations, doubt };
  }

  /** While doubtful, recounts R2 at the first moment no change is in flight. */
  override async alarm(): Promise<void> {
    this.expire();
    if (this.sql.exec<{ doubt: number }>(`SELECT doubt FROM counter`).one().doubt !== 1) return;
    const inFlight = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM reservations WHERE kept = 0`).one().n;
    if (inFlight > 0) {
      await this.ctx.storage.setAlarm(Date.now() + RECHECK_MS);
      return;
    }
    // No reserve runs during the count, so no write can land in R2 half-counted.
    await this.ctx.blockConcurrencyWhile(async () => {
      const { bytes } = await new FileStore(this.env.FILES, this.env.KV).usage();
      this.sql.exec(`UPDATE counter SET used = ?, doubt = 0`, bytes);
    });
  }

  private totals(): { used: number; reserved: number } {
    const used = this.sql.exec<{ used: number }>(`SELECT used FROM counter`).one().used;
    const reserved = this.sql.exec<{ r: number }>(`SELECT COALESCE(SUM(bytes), 0) AS r FROM reservations`).one().r;
    return { used, reserved };
  }

  /** Removes a reservation and frees the names it held; false when it was already gone. */
  private drop(id: string): boolean {
    const known = this.sql.exec(`DELETE FROM reservations WHERE id = ? RETURNING id`, id).toArray().length > 0;
    const names = this.sql.exec<{ name: string }>(`DELETE FROM locks WHERE holder = ? RETURNING name`, id).toArray();
    for (const { name } of names) this.wake(name);
    return known;
  }

  /** Drops reservations past their expiry; an unsettled change leaves the count in doubt. */
  private expire(): void {
    const now = Date.now();
    const gone = this.sql.exec<{ id: string; kept: number }>(`SELECT id, kept FROM reservations WHERE expires <= ?`, now).toArray();
    for (const { id, kept } of gone) {
      this.drop(id);
      // An expired part was never written over the quota's head; an expired write may have been.
      if (!kept) this.doubt();
    }
  }

  private doubt(): void {
    this.sql.exec(`UPDATE counter SET doubt = 1`);
    void this.ctx.storage.setAlarm(Date.now() + RECHECK_MS);
  }

  /** Resolves when the change holding `name` settles or its reservation expires. */
  private waitFor(name: string): Promise<void> {
    const holder = this.sql
      .exec<{ expires: number }>(`SELECT r.expires AS expires FROM locks l JOIN reservations r ON r.id = l.holder WHERE l.name = ?`, name)
      .toArray()[0];
    const until = Math.max(0, (holder?.expires ?? Date.now()) - Date.now()) + 1;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, until);
      const list = this.waiting.get(name) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.waiting.set(name, list);
    });
  }

  private wake(name: string): void {
    const list = this.waiting.get(name);
    if (!list) return;
    this.waiting.delete(name);
    for (const resolve of list) resolve();
  }
}
