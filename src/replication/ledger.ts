import { DurableObject } from "cloudflare:workers";
import type { PeerEnv } from "../env";

/** A rule's delivery state, as `GET /api/replication` shows it. */
export interface RuleStatus {
  /** Messages queued and not yet delivered or dead-lettered. */
  pending: number;
  lastSuccess: string | null;
  /** Milliseconds from the write's acknowledgement to its verified copy, for the last delivery. */
  lagMs: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Messages that ran out of retries (dead-lettered). */
  failed: number;
  /** Deliveries verified since the rule was added. */
  delivered: number;
}

/** The status of a rule nothing has happened to yet. */
export const EMPTY_STATUS: RuleStatus = {
  pending: 0,
  lastSuccess: null,
  lagMs: null,
  lastError: null,
  lastErrorAt: null,
  failed: 0,
  delivered: 0,
};

/** Longest error kept per rule: a destination's message is echoed, so it is cut. */
const ERROR_CHARS = 500;

/**
 * The replication ledger of one peer: per rule, what is pending, the last success and error
 * and how many messages were dead-lettered. A Durable Object so that concurrent queue
 * consumers and writers count exactly (one instance per peer, named "replication").
 */
export class ReplicationLedger extends DurableObject<PeerEnv> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: PeerEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS rule_status (
      rule TEXT PRIMARY KEY, pending INTEGER NOT NULL DEFAULT 0, last_success TEXT, lag_ms INTEGER,
      last_error TEXT, last_error_at TEXT, failed INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0)`);
  }

  /** `n` messages were queued for `rule`. */
  enqueued(rule: string, n: number): void {
    this.sql.exec(
      "INSERT INTO rule_status (rule, pending) VALUES (?, ?) ON CONFLICT(rule) DO UPDATE SET pending = pending + excluded.pending",
      rule,
      n,
    );
  }

  /** A message of `rule` was delivered and verified, `lagMs` after its write. */
  delivered(rule: string, lagMs: number): void {
    this.sql.exec(
      `INSERT INTO rule_status (rule, last_success, lag_ms, delivered) VALUES (?1, ?2, ?3, 1)
       ON CONFLICT(rule) DO UPDATE SET pending = MAX(pending - 1, 0), last_success = ?2, lag_ms = ?3, delivered = delivered + 1`,
      rule,
      new Date().toISOString(),
      Math.max(0, Math.round(lagMs)),
    );
  }

  /** A message of `rule` needed no delivery (the file changed again since: its own message delivers it). */
  skipped(rule: string): void {
    this.sql.exec("UPDATE rule_status SET pending = MAX(pending - 1, 0) WHERE rule = ?", rule);
  }

  /** A delivery attempt of `rule` failed (it will be retried, or was dead-lettered when `final`). */
  failedAttempt(rule: string, error: string, final: boolean): void {
    this.sql.exec(
      `INSERT INTO rule_status (rule, last_error, last_error_at, failed) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT(rule) DO UPDATE SET last_error = ?2, last_error_at = ?3,
         failed = failed + ?4, pending = CASE WHEN ?4 = 1 THEN MAX(pending - 1, 0) ELSE pending END`,
      rule,
      error.slice(0, ERROR_CHARS),
      new Date().toISOString(),
      final ? 1 : 0,
    );
  }

  /** The status of each rule asked for (a rule never seen is all zeros). */
  status(rules: string[]): Record<string, RuleStatus> {
    const out: Record<string, RuleStatus> = {};
    for (const rule of rules) {
      const row = this.sql.exec("SELECT * FROM rule_status WHERE rule = ?", rule).toArray()[0];
      out[rule] = row
        ? {
            pending: Number(row.pending),
            lastSuccess: (row.last_success as string | null) ?? null,
            lagMs: row.lag_ms === null ? null : Number(row.lag_ms),
            lastError: (row.last_error as string | null) ?? null,
            lastErrorAt: (row.last_error_at as string | null) ?? null,
            failed: Number(row.failed),
            delivered: Number(row.delivered),
          }
        : { ...EMPTY_STATUS };
    }
    return out;
  }

  /** Forgets a removed rule. */
  forget(rule: string): void {
    this.sql.exec("DELETE FROM rule_status WHERE rule = ?", rule);
  }
}

/** This peer's ledger. */
export const ledgerOf = (env: PeerEnv) => env.REPLICATION_LEDGER.get(env.REPLICATION_LEDGER.idFromName("replication"));
