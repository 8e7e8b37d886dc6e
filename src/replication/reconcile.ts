import { listFolder, mergeListings } from "../client/check";
import type { FileMeta } from "../client/types";
import type { PeerEnv } from "../env";
import { fileStore } from "../storage/fileStore";
import { sameContent } from "./content";
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

/** Files per listing page on each side (the most a peer lists at once). */
const PAGE = 1000;
/** Messages per queue batch: sent as the merge goes, so a large difference is never held whole. */
const BATCH = 100;

/**
 * Compares a rule's prefix here with its replica there by merging the two name-ordered
 * listings page by page (one page of each side in memory, as `edgepeer check` does), judging
 * each pair by `sameContent` (SHA-256 where both sides know it), and queues every difference:
 * so a destination that was down, a lost message or a write made before the rule existed is
 * caught up without anyone asking. No byte of a file is read.
 */
export async function reconcileRule(env: PeerEnv, rule: ReplicationRule, options: { pageSize?: number } = {}): Promise<ReconcileReport> {
  const pageSize = options.pageSize ?? PAGE;
  const report: ReconcileReport = { rule: rule.id, puts: 0, deletes: 0, identical: 0 };
  const at = Date.now();
  let queued: ReplicationMessage[] = [];
  const queue = async (message: ReplicationMessage) => {
    queued.push(message);
    if (message.op === "put") report.puts++;
    else report.deletes++;
    if (queued.length >= BATCH) {
      await enqueue(env, queued);
      queued = [];
    }
  };

  const here = listHere(env, rule.prefix, pageSize);
  const there = listFolder(destinationOf(env, rule), rule.as, { pageSize });
  for await (const { path, a: local, b: replica } of mergeListings(here, there, rule.prefix, rule.as)) {
    const name = rule.prefix + path;
    if (!replica) await queue({ v: 1, rule: rule.id, name, op: "put", at });
    else if (!local) {
      if (rule.deletes === "mirror") await queue({ v: 1, rule: rule.id, name, op: "delete", sha256: replica.sha256, at });
    } else if (sameContent(local, replica)) report.identical++;
    else await queue({ v: 1, rule: rule.id, name, op: "put", at });
  }
  await enqueue(env, queued);
  return report;
}

/** Every file under `prefix` here in name order, one page held at a time; folder markers skipped. */
async function* listHere(env: PeerEnv, prefix: string, pageSize: number): AsyncGenerator<FileMeta> {
  const files = fileStore(env);
  let cursor: string | undefined;
  do {
    const page = await files.list(prefix, cursor, pageSize);
    for (const f of page.files) if (!f.name.endsWith("/")) yield f;
    cursor = page.cursor ?? undefined;
  } while (cursor);
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
