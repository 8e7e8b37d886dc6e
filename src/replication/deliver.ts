import { PeerClient } from "../client/client";
import { PeerError } from "../client/errors";
import { knownPeers, selfUrl } from "../config";
import type { PeerEnv } from "../env";
import { signShareLink } from "../http/shareLinks";
import { fileStore } from "../storage/fileStore";
import type { ReplicationMessage } from "./enqueue";
import { type ReplicationRule, destinationName } from "./rules";

/** How long the link a destination pulls stays valid: it is used at once. */
const LINK_SECONDS = 600;

/** A delivery that cannot succeed by retrying (no such peer, no URL): it is dead-lettered at once. */
export class PermanentFailure extends Error {}

/** The destination of `rule`, spoken to with the rule's token through the one client. */
export function destinationOf(env: PeerEnv, rule: ReplicationRule): PeerClient {
  const peer = knownPeers(env).find((p) => p.name === rule.to);
  if (!peer) throw new PermanentFailure(`${rule.to} is not a known peer (PEERS).`);
  return new PeerClient({ url: peer.url, token: rule.token, name: rule.to });
}

/**
 * Makes the replica of `message.name` match the file as it is now: pulled by the destination
 * through a signed link (no byte passes through this consumer), its SHA-256 checked against
 * ours, and the delivery repeated if the file changed meanwhile — so the newest version is
 * the one that stays. A file that is gone is deleted on the destination (mirror) or left.
 */
export async function deliver(env: PeerEnv, rule: ReplicationRule, message: ReplicationMessage): Promise<"delivered" | "skipped"> {
  const files = fileStore(env);
  const target = destinationName(rule, message.name);
  const dest = destinationOf(env, rule);
  const local = await files.head(message.name);

  if (message.op === "delete" || !local) {
    if (local) return "skipped"; // written again since: that write's own message delivers it
    if (rule.deletes !== "mirror") return "skipped";
    const sha = message.op === "delete" ? message.sha256 : null;
    try {
      await dest.deleteFile(target, { ifSha256: sha ?? undefined, origin: env.PEER_NAME });
    } catch (err) {
      // Gone already, or replaced there by something newer than what was deleted here: leave it.
      if (err instanceof PeerError && (err.status === 404 || err.status === 412)) return "delivered";
      throw err;
    }
    return "delivered";
  }

  const base = selfUrl(env);
  if (!base) throw new PermanentFailure("This peer does not know its own URL: set PUBLIC_URL (or list it in PEERS).");
  const expires = Math.floor(Date.now() / 1000) + LINK_SECONDS;
  const link = await signShareLink(env.PEER_TOKEN ?? "", env.PEER_NAME, base, message.name, expires, { etag: local.object.etag });
  const meta = await dest.pullFile(target, link);
  if (local.sha256 && meta.sha256 !== local.sha256) {
    throw new Error(`${rule.to} stored ${target} with SHA-256 ${meta.sha256}, not ${local.sha256}.`);
  }
  const now = await files.head(message.name);
  if (now?.object.etag !== local.object.etag) throw new Error(`${message.name} changed during its delivery; delivering the newer version.`);
  return "delivered";
}
