import { isMd5Etag } from "../api/etags";
import type { FileMeta } from "../client/types";

/** What the rule reads of each side: a listing entry (a replica's may carry the etag it was pulled from). */
type Listed = Pick<FileMeta, "size" | "etag" | "sha256" | "sourceEtag">;

/**
 * Whether `replica` holds the bytes of `source`, from listings alone: the one rule that both
 * reconciliation (what it queues again) and the per-file replica state (`current` or
 * `differs`) follow, so the state always says what reconcile will do.
 *
 * - A SHA-256 on both sides decides alone: equal size and equal digest.
 * - Otherwise the size must be equal, and the replica must be a copy of this very version:
 *   it was pulled from a file whose R2 etag is the source's (`sourceEtag`, recorded by pull) —
 *   or the other way round, when rules run both ways —
 *   or both etags are the same plain MD5 of a single put. R2 makes an etag from the bytes (their
 *   MD5; for a multipart object the MD5 of its parts' MD5s, `…-N`): a source written again with
 *   other bytes has another etag, so a change is never taken for the copy. That is how a file
 *   without SHA-256 (a multipart object stored outside the peer, or whose record was lost) is
 *   delivered once, not again on every reconcile.
 */
export function sameContent(source: Listed, replica: Listed): boolean {
  if (source.size !== replica.size) return false;
  if (source.sha256 && replica.sha256) return source.sha256 === replica.sha256;
  if (replica.sourceEtag !== undefined && replica.sourceEtag === source.etag) return true;
  // Replication both ways: the source may itself be the copy pulled from this replica.
  if (source.sourceEtag !== undefined && source.sourceEtag === replica.etag) return true;
  return isMd5Etag(source.etag) && source.etag === replica.etag;
}
