import type { PeerEnv } from "../env";
import { fileStore } from "../storage/fileStore";
import { destinationOf } from "./deliver";
import { type ReplicationMessage, enqueue } from "./enqueue";
import { ledgerOf } from "./ledger";
import { type ReplicationRule, loadRules } from "./rules";

/** What one reconciliation of a rule found and queued. */
export interface ReconcileReport {
  rule: string;
  /** Files queued because the replica is missing or differs. */
  puts: number;
  /** Replicas queued for deletion (mirror rules only) because their source is gone. */
  deletes: number;
  identical: number;
}

/**
 * Compares a rule's prefix here with its replica there, by name and SHA-256 from both
 * listings (no byte read), and queues every difference: so a destination that was down, a
 * lost message or a write made before the rule existed is caught up without anyone asking.
 */
export async function reconcileRule(env: PeerEnv, rule: ReplicationRule): Promise<ReconcileReport> {
  const here = new Map<string, string | null>();
  const files = fileStore(env);
  let cursor: string | undefined;
  do {
    const page = await files.list(rule.prefix, cursor, 1000);
    for (const f of page.files) if (!f.name.endsWith("/")) here.set(f.name.slice(rule.prefix.length), f.sha256);
    cursor = page.cursor ?? undefined;
  } while (cursor);

  const there = new Map<string, string | null>();
  for await (const f of destinationOf(env, rule).allFiles(rule.as)) {
    if (!f.name.endsWith("/")) there.set(f.name.slice(rule.as.length), f.sha256);
  }

  const at = Date.now();
  const messages: ReplicationMessage[] = [];
  let identical = 0;
  for (const [rel, sha] of here) {
    const replica = there.get(rel);
    if (sha !== null && replica === sha) identical++;
    else messages.push({ v: 1, rule: rule.id, name: rule.prefix + rel, op: "put", at });
  }
  let deletes = 0;
  if (rule.deletes === "mirror") {
    for (const [rel, sha] of there) {
      if (here.has(rel)) continue;
      deletes++;
      messages.push({ v: 1, rule: rule.id, name: rule.prefix + rel, op: "delete", sha256: sha, at });
    }
  }
  await enqueue(env, messages);
  return { rule: rule.id, puts: messages.length - deletes, deletes, identical };
}

/** The scheduled handler's work: every rule reconciled; a rule that fails is reported in its status. */
export async function reconcileAll(env: PeerEnv): Promise<ReconcileReport[]> {
  const reports: ReconcileReport[] = [];
  for (const rule of await loadRules(env)) {
    try {
      reports.push(await reconcileRule(env, rule));
    } catch (err) {
      await ledgerOf(env).failedAttempt(rule.id, `reconcile: ${err instanceof Error ? err.message : String(err)}`, false);
    }
  }
  return reports;
}
