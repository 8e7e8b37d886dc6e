import { compareNames } from "../client/check";
import { PeerError } from "../client/errors";
import type { FileMeta } from "../client/types";
import type { PeerEnv } from "../env";
import { badRequest } from "../http/errors";
import { fileStore } from "../storage/fileStore";
import { sameContent } from "./content";
import { destinationOf } from "./deliver";
import type { ReplicationRule } from "./rules";

/** Where one file's copy stands on the rule's destination. */
export type ReplicaState = "current" | "differs" | "missing" | "unknown";

/** One page of a folder under a rule, each file with the state of its copy. */
export interface ReplicaPage {
  rule: string;
  prefix: string;
  files: Array<{ name: string; state: ReplicaState }>;
  cursor: string | null;
  /** Why the destination could not be listed (every state is then `unknown`), or null. */
  error: string | null;
}

/** Files of the folder here per answer: one listing page. */
const PAGE = 1000;
/** Most destination listing pages read for one answer: files past them are `unknown`. */
const DEST_PAGES = 5;

/**
 * One page of `folder` (one level, as the Files view lists it) with the state of each file's
 * copy on the rule's destination, from listings alone: the destination's folder is listed
 * with the rule's token, at most DEST_PAGES pages, until past this page's last name. `current`:
 * the copy holds this file's bytes by `sameContent`, the rule reconcile follows (so a file shown
 * `differs` is one reconcile delivers again); `differs`; `missing`;
 * `unknown`: past the pages read, or the destination did not answer (`error` says why).
 */
export async function replicaPage(env: PeerEnv, rule: ReplicationRule, folder: string, cursor?: string): Promise<ReplicaPage> {
  if (!folder.startsWith(rule.prefix)) throw badRequest(`"${folder}" is not under the rule's folder "${rule.prefix}".`);
  if (folder !== "" && !folder.endsWith("/")) throw badRequest("prefix must be a folder: empty or ending in /.");
  const page = await fileStore(env).list(folder, cursor, PAGE, "/");
  const here = page.files.filter((f) => !f.name.endsWith("/"));
  const answer: ReplicaPage = { rule: rule.id, prefix: folder, files: [], cursor: page.cursor, error: null };
  const last = here.at(-1);
  if (!last) return answer;

  const folderThere = rule.as + folder.slice(rule.prefix.length);
  const lastRel = last.name.slice(folder.length);
  const there = new Map<string, FileMeta>();
  let reached = "";
  let complete = false;
  try {
    const dest = destinationOf(env, rule);
    let next: string | undefined;
    for (let pages = 0; pages < DEST_PAGES; pages++) {
      const listed = await dest.listFiles({ prefix: folderThere, delimiter: "/", cursor: next, limit: PAGE });
      for (const f of listed.files) there.set(f.name.slice(folderThere.length), f);
      reached = listed.files.at(-1)?.name.slice(folderThere.length) ?? reached;
      next = listed.cursor ?? undefined;
      if (!next) complete = true;
      if (!next || compareNames(reached, lastRel) >= 0) break;
    }
  } catch (err) {
    answer.error = err instanceof PeerError || err instanceof Error ? err.message : String(err);
    answer.files = here.map((f) => ({ name: f.name, state: "unknown" }));
    return answer;
  }
  answer.files = here.map((f) => {
    const rel = f.name.slice(folder.length);
    const copy = there.get(rel);
    if (copy) return { name: f.name, state: sameContent(f, copy) ? "current" : "differs" };
    return { name: f.name, state: complete || compareNames(rel, reached) <= 0 ? "missing" : "unknown" };
  });
  return answer;
}
