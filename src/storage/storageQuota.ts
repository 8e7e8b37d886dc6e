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
  /** Commits of answered writes the caller's isolate carries along: applied before anything else. */
  commits?: CarriedCommit[];
}

/** A `commit` sent with a later `reserve` instead of as a call of its own. */
export interface CarriedCommit {
  id: string;
  delta: number;
  settleGroup?: string;
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

/** Settled reservation ids remembered: far more than the commits an isolate holds unsent. */
const SETTLED_MAX = 10_000;

/** A reservation of a change in flight. */
interface InFlight {
  bytes: number;
  expires: number;
  group?: string;
  part?: number;
}

/** Storage key of a reservation in flight (the id is ours, a UUID). */
const inFlightKey = (id: string) => `w:${id}`;
/** Writes whose loss in a crash only leaves a reservation to expire: the caller need not wait for them. */
const UNCONFIRMED = { allowUnconfirmed: true } as const;

/**
 * The one counter of a peer's storage quota (binding `QUOTA`, one instance per peer, named by
 * `PEER_NAME`). A Durable Object runs one request at a time, so `reserve` is exact under any
 * concurrency: room is checked against bytes stored plus every reservation in flight. A writer
 * reserves before streaming, then commits the real change (bytes after − bytes before, both
 * read while it holds the file's name) or releases on failure. docs/storage.md explains how
 * the count stays true.
 *
 * Storage: `counter` (SQL, one row: bytes stored, doubt), stored multipart parts (SQL table
 * `parts`, they live for hours), reservations in flight (`w:<id>` keys, written unconfirmed:
 * they must outlive an eviction of the object during a long upload, but `reserve` need not
 * wait for the disk — one durable write per change, at its commit).
 */
export class StorageQuota extends DurableObject<PeerEnv> {
  private readonly sql: SqlStorage;
  private readonly inFlight = new Map<string, InFlight>();
  /**
   * Names held by changes in flight → the reservation holding each, and back. In memory: a
   * lock only matters while its holder runs. (After a restart with changes in flight the
   * count is in doubt.)
   */
  private readonly locks = new Map<string, string>();
  private readonly held = new Map<string, string[]>();
  /** Callers waiting for a name another change holds, woken when it settles. */
  private readonly waiting = new Map<string, (() => void)[]>();
  /**
   * Reservations settled lately (the newest `SETTLED_MAX`): a commit sent again is known as a
   * repeat. In memory: after a restart a repeat finds no reservation, adds nothing, and doubts.
   */
  private readonly settled = new Set<string>();
  /** `counter.used`, and the bytes of every reservation in flight plus every stored part. */
  private used = 0;
  private reserved = 0;
  /** Earliest expiry of a stored part (Infinity when none): the parts table is scanned only then. */
  private nextPartExpiry = Number.POSITIVE_INFINITY;

  constructor(ctx: DurableObjectState, env: PeerEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), used INTEGER NOT NULL, doubt INTEGER NOT NULL DEFAULT 0)`,
      );
      this.sql.exec(
        `CREATE TABLE IF NOT EXISTS parts (id TEXT PRIMARY KEY, grp TEXT NOT NULL, part INTEGER NOT NULL, bytes INTEGER NOT NULL, expires INTEGER NOT NULL)`,
      );
      this.sql.exec(`CREATE INDEX IF NOT EXISTS parts_grp ON parts (grp, part)`);
      this.sql.exec(`CREATE INDEX IF NOT EXISTS parts_expires ON parts (expires)`);
      // First use: the bucket as it is now. Every write after this goes through reserve/commit.
      const counter = this.sql.exec<{ used: number }>(`SELECT used FROM counter`).toArray()[0];
      if (counter) {
        this.used = counter.used;
      } else {
        this.used = (await new FileStore(this.env.FILES, this.env.KV).usage()).bytes;
        this.sql.exec(`INSERT INTO counter (id, used) VALUES (1, ?)`, this.used);
      }
      const parts = this.sql
        .exec<{ r: number; e: number | null }>(`SELECT COALESCE(SUM(bytes), 0) AS r, MIN(expires) AS e FROM parts`)
        .one();
      this.reserved = parts.r;
      this.nextPartExpiry = parts.e ?? Number.POSITIVE_INFINITY;
      const earlier = await ctx.storage.list<InFlight>({ prefix: "w:" });
      for (const [key, reservation] of earlier) {
        this.inFlight.set(key.slice(2), reservation);
        this.reserved += reservation.bytes;
      }
      // Changes were in flight when this object stopped: which names they held is lost.
      if (earlier.size > 0) this.doubt();
    });
  }

  /**
   * Reserves room for a change: waits while another change holds one of its `locks`, then
   * refuses (with the counts) when `bytes` do not fit, else records the reservation.
   */
  async reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    this.commitAll(request.commits);
    const names = [...new Set(request.locks ?? [])];
    for (;;) {
      this.expire();
      const busy = names.find((name) => this.locks.has(name));
      if (busy === undefined) break;
      await this.waitFor(busy);
    }
    const { used, reserved } = this;
    if (request.bytes > 0 && used + reserved + request.bytes > request.limit) return { refused: { used, reserved } };
    const id = crypto.randomUUID();
    const reservation: InFlight = {
      bytes: request.bytes,
      expires: Date.now() + request.ttlMs,
      ...(request.group !== undefined && { group: request.group, part: request.part ?? 0 }),
    };
    this.inFlight.set(id, reservation);
    this.reserved += request.bytes;
    void this.ctx.storage.put(inFlightKey(id), reservation, UNCONFIRMED);
    for (const name of names) this.locks.set(name, id);
    if (names.length) this.held.set(id, names);
    return { id };
  }

  /**
   * Settles reservation `id`: the change is done and stored bytes moved by `delta` (which may
   * be negative). `settleGroup` also drops the multipart upload whose parts it completed.
   * Idempotent: a commit sent again (its carrying call failed after it was applied) is a no-op.
   */
  commit(id: string, delta: number, settleGroup?: string): void {
    if (this.settled.has(id)) return;
    this.remember(id);
    if (settleGroup) this.dropParts(`DELETE FROM parts WHERE grp = ? RETURNING bytes`, settleGroup);
    // No reservation: it expired, or it was lost or settled before a restart. Its delta may be
    // counted already, so it is not added (never twice); the recount the doubt brings heals it.
    if (!this.drop(id)) {
      this.doubt();
      return;
    }
    this.used = Math.max(0, this.used + delta);
    this.sql.exec(`UPDATE counter SET used = ?`, this.used);
  }

  /** Applies commits an isolate carried or sends again (each once, see `commit`). */
  commitAll(commits: CarriedCommit[] = []): void {
    for (const carried of commits) this.commit(carried.id, carried.delta, carried.settleGroup);
  }

  /** Settles reservation `id` with nothing stored (the write failed or was refused). */
  release(id: string): void {
    this.remember(id);
    this.drop(id);
  }

  /**
   * A multipart part is stored: its reservation now holds the part's bytes until the upload
   * completes or aborts, replacing an earlier upload of the same part number, and every part
   * of the upload lives `ttlMs` from now (an upload in use does not expire).
   */
  keepPart(id: string, ttlMs: number): void {
    const reservation = this.inFlight.get(id);
    if (!reservation || reservation.group === undefined) return;
    this.drop(id);
    const { group, part = 0, bytes } = reservation;
    this.dropParts(`DELETE FROM parts WHERE grp = ? AND part = ? RETURNING bytes`, group, part);
    const expires = Date.now() + ttlMs;
    this.sql.exec(`INSERT INTO parts (id, grp, part, bytes, expires) VALUES (?, ?, ?, ?, ?)`, id, group, part, bytes, expires);
    this.sql.exec(`UPDATE parts SET expires = ? WHERE grp = ?`, expires, group);
    this.reserved += bytes;
    this.nextPartExpiry = Math.min(this.nextPartExpiry, expires);
  }

  /** Drops every stored part of a multipart upload (aborted: R2 discarded its parts). */
  releaseGroup(group: string): void {
    this.dropParts(`DELETE FROM parts WHERE grp = ? RETURNING bytes`, group);
  }

  /** The counter now (after the caller's carried commits, so an isolate reads its own writes). */
  usage(commits: CarriedCommit[] = []): QuotaUsage {
    this.commitAll(commits);
    this.expire();
    const parts = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parts`).one().n;
    return { used: this.used, reserved: this.reserved, reservations: this.inFlight.size + parts, doubt: this.inDoubt() };
  }

  /** While doubtful, recounts R2 at the first moment no change is in flight. */
  override async alarm(): Promise<void> {
    this.expire();
    if (!this.inDoubt()) return;
    if (this.inFlight.size > 0) {
      await this.ctx.storage.setAlarm(Date.now() + RECHECK_MS);
      return;
    }
    // No reserve runs during the count, so no write can land in R2 half-counted.
    await this.ctx.blockConcurrencyWhile(async () => {
      this.used = (await new FileStore(this.env.FILES, this.env.KV).usage()).bytes;
      this.sql.exec(`UPDATE counter SET used = ?, doubt = 0`, this.used);
    });
  }

  /** Records `id` as settled, forgetting the oldest past `SETTLED_MAX`. */
  private remember(id: string): void {
    this.settled.add(id);
    if (this.settled.size > SETTLED_MAX) this.settled.delete(this.settled.values().next().value as string);
  }

  /** Removes a reservation in flight and frees the names it held; false when it was already gone. */
  private drop(id: string): boolean {
    const reservation = this.inFlight.get(id);
    if (reservation) {
      this.inFlight.delete(id);
      this.reserved -= reservation.bytes;
      void this.ctx.storage.delete(inFlightKey(id), UNCONFIRMED);
    }
    for (const name of this.held.get(id) ?? []) {
      if (this.locks.get(name) === id) this.locks.delete(name);
      this.wake(name);
    }
    this.held.delete(id);
    return reservation !== undefined;
  }

  /** Runs a `DELETE … FROM parts RETURNING bytes` and takes the rows' bytes off `reserved`. */
  private dropParts(query: string, ...bindings: (string | number)[]): void {
    for (const { bytes } of this.sql.exec<{ bytes: number }>(query, ...bindings)) this.reserved -= bytes;
  }

  /** Drops reservations past their expiry; an unsettled change leaves the count in doubt. */
  private expire(): void {
    const now = Date.now();
    for (const [id, reservation] of this.inFlight) {
      if (reservation.expires > now) continue;
      this.drop(id);
      // A write that never settled may have stored bytes nobody committed.
      this.doubt();
    }
    if (now < this.nextPartExpiry) return;
    // An abandoned upload's parts were never written over the quota's head: no doubt.
    this.dropParts(`DELETE FROM parts WHERE expires <= ? RETURNING bytes`, now);
    this.nextPartExpiry = this.sql.exec<{ e: number | null }>(`SELECT MIN(expires) AS e FROM parts`).one().e ?? Number.POSITIVE_INFINITY;
  }

  private inDoubt(): boolean {
    return this.sql.exec<{ doubt: number }>(`SELECT doubt FROM counter`).one().doubt === 1;
  }

  private doubt(): void {
    this.sql.exec(`UPDATE counter SET doubt = 1`);
    void this.ctx.storage.setAlarm(Date.now() + RECHECK_MS);
  }

  /** Resolves when the change holding `name` settles or its reservation expires. */
  private waitFor(name: string): Promise<void> {
    const holder = this.locks.get(name);
    const expires = holder ? this.inFlight.get(holder)?.expires : undefined;
    const until = Math.max(0, (expires ?? Date.now()) - Date.now()) + 1;
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
