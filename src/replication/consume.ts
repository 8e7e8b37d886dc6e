import type { PeerEnv } from "../env";
import { PermanentFailure, deliver } from "./deliver";
import type { ReplicationMessage } from "./enqueue";
import { ledgerOf } from "./ledger";
import { loadRules } from "./rules";

/** Seconds before retry `attempt` (1, 2, …): doubling from 2 s, at most 5 minutes. */
export const backoffSeconds = (attempt: number) => Math.min(2 ** Math.max(1, attempt), 300);

/** The dead-letter queue's name ends so; its messages are counted as failed, then dropped. */
const DEAD_LETTER = /-dlq$/;

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The `queue()` handler: delivers each message of the replication queue (concurrently within
 * the batch), acknowledging it once its copy is verified and retrying it with backoff when
 * not; the platform moves a message that ran out of retries to the dead-letter queue, whose
 * messages are counted here as failed.
 */
export async function consumeReplication(batch: MessageBatch<ReplicationMessage>, env: PeerEnv): Promise<void> {
  const ledger = ledgerOf(env);
  if (DEAD_LETTER.test(batch.queue)) {
    for (const message of batch.messages) {
      await ledger.failedAttempt(message.body.rule, `Gave up on ${message.body.name} after every retry.`, true);
      message.ack();
    }
    return;
  }

  const rules = new Map((await loadRules(env)).map((r) => [r.id, r]));
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body;
      const rule = rules.get(body.rule);
      // The rule was removed since: nothing to deliver, nothing to count.
      if (!rule || body.v !== 1) {
        message.ack();
        return;
      }
      try {
        if ((await deliver(env, rule, body)) === "delivered") await ledger.delivered(rule.id, Date.now() - body.at);
        else await ledger.skipped(rule.id);
        message.ack();
      } catch (err) {
        if (err instanceof PermanentFailure) {
          await ledger.failedAttempt(rule.id, describe(err), true);
          message.ack();
          return;
        }
        await ledger.failedAttempt(rule.id, `${body.name}: ${describe(err)}`, false);
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
    }),
  );
}
