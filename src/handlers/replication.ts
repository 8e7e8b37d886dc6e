import type { IRequest } from "itty-router";
import { PeerError } from "../client/errors";
import { knownPeers } from "../config";
import type { ReplicaStates, ReplicationRule as ReplicationRuleShape, ReplicationRules } from "../api/types";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { badRequest, notFound } from "../http/errors";
import { json, noContent } from "../http/json";
import { decodeParam } from "../http/paths";
import { urlOf } from "../http/routes";
import { checkNamePrefix } from "../storage/names";
import { destinationOf } from "../replication/deliver";
import { EMPTY_STATUS, type RuleStatus, ledgerOf } from "../replication/ledger";
import { reconcileRule } from "../replication/reconcile";
import { replicaPage } from "../replication/replicas";
import { type ReplicationRule, checkRuleId, loadRules, publicRule, removeRule, ruleBody, saveRule } from "../replication/rules";

const ruleIdOf = (request: IRequest) => checkRuleId(decodeParam(request.params.id, "rule id"));

/** A rule with its delivery status, as `GET /api/replication` lists it. */
async function withStatus(env: PeerEnv, rules: ReplicationRule[]) {
  const status: Record<string, RuleStatus> = rules.length ? await ledgerOf(env).status(rules.map((r) => r.id)) : {};
  return rules.map((r) => ({ ...publicRule(r), ...(status[r.id] ?? EMPTY_STATUS) }));
}

/**
 * `PUT /api/replication/{id}` — adds or replaces a rule. The destination must be a known peer
 * and must accept the token (a token it refuses is a 400 now, not a stream of failures later).
 */
export async function putRule(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = ruleIdOf(request);
  const body = await readJson(request, ruleBody);
  if (body.to === env.PEER_NAME) throw badRequest("A rule replicates to another peer, not to this one.");
  if (!knownPeers(env).some((p) => p.name === body.to)) throw badRequest(`"${body.to}" is not a known peer (PEERS).`);
  const rule: ReplicationRule = {
    id,
    prefix: body.prefix,
    to: body.to,
    as: body.as ?? body.prefix,
    deletes: body.deletes,
    token: body.token,
    created: new Date().toISOString(),
  };
  try {
    await destinationOf(env, rule).listFiles({ prefix: rule.as, limit: 1 });
  } catch (err) {
    // 401: not a token of that peer (or revoked, expired). A 403 is a token that may not list
    // there — a write-only drop box is fine for deliveries; reconciliation will say it needs `read`.
    // Unreachable now: the rule is kept and its deliveries retry until the peer is back.
    if (err instanceof PeerError && err.status === 401) throw badRequest(`${rule.to} refused the token: ${err.message}`);
  }
  await saveRule(env, rule);
  const [shown] = await withStatus(env, [rule]);
  return json(shown satisfies ReplicationRuleShape | undefined);
}

/** `GET /api/replication` */
export async function listRules(_request: IRequest, env: PeerEnv): Promise<Response> {
  return json({ rules: await withStatus(env, await loadRules(env)) } satisfies ReplicationRules);
}

/** `DELETE /api/replication/{id}` — queued messages of the rule are dropped when they come up. */
export async function deleteRule(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = ruleIdOf(request);
  if (!(await removeRule(env, id))) throw notFound(`No replication rule "${id}".`);
  await ledgerOf(env).forget(id);
  return noContent();
}

/** `POST /api/replication/{id}/reconcile` — compares both sides now (in the background) and queues every difference. */
export async function reconcileNow(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const id = ruleIdOf(request);
  const rule = (await loadRules(env)).find((r) => r.id === id);
  if (!rule) throw notFound(`No replication rule "${id}".`);
  ctx.waitUntil(
    reconcileRule(env, rule).catch((err) =>
      ledgerOf(env).failedAttempt(id, `reconcile: ${err instanceof Error ? err.message : String(err)}`, false),
    ),
  );
  return json({ rule: id, reconciling: true }, 202);
}

/**
 * `GET /api/replication/{id}/files?prefix=&cursor=` — one page of a folder under the rule (one
 * level), each file with whether its copy on the destination is current, from both listings.
 */
export async function replicaStates(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = ruleIdOf(request);
  const url = urlOf(request);
  const rule = (await loadRules(env)).find((r) => r.id === id);
  if (!rule) throw notFound(`No replication rule "${id}".`);
  const prefix = checkNamePrefix(url.searchParams.get("prefix") ?? rule.prefix);
  const cursor = url.searchParams.get("cursor") || undefined;
  return json((await replicaPage(env, rule, prefix, cursor)) satisfies ReplicaStates);
}
