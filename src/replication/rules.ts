import { z } from "zod";
import { folderPathProblem } from "../api/names";
import type { PeerEnv } from "../env";
import { HttpError, badRequest } from "../http/errors";
import { KV_PREFIX } from "../storage/keys";

/** A rule: files under `prefix` are delivered to peer `to` under `as`. */
export interface ReplicationRule {
  id: string;
  prefix: string;
  to: string;
  as: string;
  /** `mirror`: a delete here deletes the replica; `keep`: replicas outlive their source. */
  deletes: "mirror" | "keep";
  /** The destination's token (scoped: `write`, `read` for reconcile, `delete` for mirror). Never shown. */
  token: string;
  created: string;
}

/** What `GET /api/replication` shows of a rule: everything but the token. */
export type PublicRule = Omit<ReplicationRule, "token">;

/** Most rules a peer keeps: all of them live in one KV value, read once per write. */
export const MAX_RULES = 32;
/** A rule id: short, URL-safe, so it bounds the keys and queue messages built from it. */
export const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The one KV key that holds every rule (bounded: at most MAX_RULES rules of bounded fields). */
const RULES_KEY = `${KV_PREFIX.replication}rules`;

/** A folder prefix: empty (everything) or a folder path ending in `/`, by the contract's one rule (`folderPathProblem`). */
const folderPrefix = z
  .string()
  .superRefine((p, ctx) => {
    const problem = p === "" ? null : p.endsWith("/") ? folderPathProblem(p) : 'must be "" or a folder path ending in "/"';
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .transform((p) => p.normalize("NFC"));

export const ruleBody = z.object({
  prefix: folderPrefix,
  to: z.string().min(1).max(64),
  as: folderPrefix.optional(),
  token: z.string().min(1).max(4096),
  deletes: z.enum(["mirror", "keep"]).default("mirror"),
});

/** Rules as last read by this isolate; a write of the rules here replaces it at once. */
let memo: { raw: string | null; rules: ReplicationRule[]; at: number } | null = null;
/** How long this isolate trusts its copy of the rules before reading KV again. */
const FRESH_MS = 2000;

/** Every rule of this peer (a missed write from a stale copy is caught by reconciliation). */
export async function loadRules(env: PeerEnv): Promise<ReplicationRule[]> {
  if (memo && Date.now() - memo.at < FRESH_MS) return memo.rules;
  const raw = await env.KV.get(RULES_KEY);
  if (memo && memo.raw === raw) {
    memo.at = Date.now();
    return memo.rules;
  }
  const rules = raw ? (JSON.parse(raw) as ReplicationRule[]) : [];
  memo = { raw, rules, at: Date.now() };
  return rules;
}

async function storeRules(env: PeerEnv, rules: ReplicationRule[]): Promise<void> {
  const raw = JSON.stringify(rules);
  await env.KV.put(RULES_KEY, raw);
  memo = { raw, rules, at: Date.now() };
}

/** Adds or replaces rule `id`. */
export async function saveRule(env: PeerEnv, rule: ReplicationRule): Promise<void> {
  const rules = (await loadRules(env)).filter((r) => r.id !== rule.id);
  if (rules.length >= MAX_RULES) throw new HttpError("conflict", `A peer keeps at most ${MAX_RULES} replication rules.`);
  await storeRules(env, [...rules, rule]);
}

/** Removes rule `id`; false when there was none. */
export async function removeRule(env: PeerEnv, id: string): Promise<boolean> {
  const rules = await loadRules(env);
  const kept = rules.filter((r) => r.id !== id);
  if (kept.length === rules.length) return false;
  await storeRules(env, kept);
  return true;
}

/** A rule id from a path, or 400. */
export function checkRuleId(id: string): string {
  if (!RULE_ID.test(id)) throw badRequest("A rule id is 1–64 characters: letters, digits, '.', '_' or '-', not starting with a symbol.");
  return id;
}

/** Where `name` (under `rule.prefix`) lives on the destination. */
export const destinationName = (rule: ReplicationRule, name: string) => rule.as + name.slice(rule.prefix.length);

/** The rule without its token. */
export const publicRule = ({ token: _token, ...rule }: ReplicationRule): PublicRule => rule;
