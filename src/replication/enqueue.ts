import type { PeerEnv } from "../env";
import { ledgerOf } from "./ledger";
import { type ReplicationRule, loadRules } from "./rules";

/**
 * One queued delivery. It names the file, not a version: the consumer always delivers what
 * the file is when it runs, so a message delivered twice or after a newer write's message
 * can never put an older version on the destination.
 */
export interface ReplicationMessage {
  v: 1;
  rule: string;
  name: string;
  /** `put`: make the replica match the file; `delete`: the file was deleted here. */
  op: "put" | "delete";
  /** For `delete`: the SHA-256 of the deleted version; the replica is removed only if it still is that. */
  sha256?: string | null;
  /** When the write was acknowledged (ms since the epoch), for the lag. */
  at: number;
}

/** What the file store tells replication about each acknowledged change. */
export interface FileEvents {
  /** `name` was written; `origin` is the peer it was replicated from, if any. */
  written(name: string, origin?: string): Promise<void>;
  /** `name` (whose SHA-256 was `sha256`) was deleted; `origin` as for `written`. */
  deleted(name: string, sha256: string | null, origin?: string): Promise<void>;
}

/** The rules a change of `name` from `origin` goes to: never back to the peer it came from. */
function rulesFor(rules: ReplicationRule[], name: string, origin: string | undefined): ReplicationRule[] {
  // Folder markers are not replicated: a replica's folders exist through its files.
  if (name.endsWith("/")) return [];
  return rules.filter((r) => name.startsWith(r.prefix) && r.to !== origin);
}

/** Queues `messages` and counts them as pending, per rule. */
export async function enqueue(env: PeerEnv, messages: ReplicationMessage[]): Promise<void> {
  if (messages.length === 0) return;
  for (let i = 0; i < messages.length; i += 100) {
    await env.REPLICATION.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" })));
  }
  const perRule = new Map<string, number>();
  for (const m of messages) perRule.set(m.rule, (perRule.get(m.rule) ?? 0) + 1);
  const ledger = ledgerOf(env);
  await Promise.all([...perRule].map(([rule, n]) => ledger.enqueued(rule, n)));
}

/**
 * The file store's events for this peer: each change under a rule's prefix is queued before
 * the write is acknowledged. Costs one memoised KV read when no rule matches.
 */
export function replicationEvents(env: PeerEnv): FileEvents | undefined {
  if (!env.REPLICATION || !env.REPLICATION_LEDGER) return undefined;
  // The write is already stored: a message that cannot be queued is caught up by reconciliation.
  const queue = (messages: ReplicationMessage[]) =>
    enqueue(env, messages).catch((err) => console.error(`replication: could not queue ${messages.length} message(s): ${String(err)}`));
  return {
    async written(name, origin) {
      const rules = rulesFor(await loadRules(env), name, origin);
      const at = Date.now();
      await queue(rules.map((r) => ({ v: 1, rule: r.id, name, op: "put", at })));
    },
    async deleted(name, sha256, origin) {
      const rules = rulesFor(await loadRules(env), name, origin).filter((r) => r.deletes === "mirror");
      const at = Date.now();
      await queue(rules.map((r) => ({ v: 1, rule: r.id, name, op: "delete", sha256, at })));
    },
  };
}
