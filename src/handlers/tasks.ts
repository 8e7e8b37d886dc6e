import type { IRequest } from "itty-router";
import { z } from "zod";
import { intVar } from "../config";
import type { CacheInfo, TaskBatch, TaskPage, TaskRecord, TaskResult } from "../api/types";
import type { PeerEnv } from "../env";
import { readJson } from "../http/body";
import { badRequest, notFound } from "../http/errors";
import { json, noContent } from "../http/json";
import { decodeParam } from "../http/paths";
import { ResultCache } from "../storage/cache";
import { DEFAULT_HISTORY_BOUNDS, TaskHistory } from "../storage/history";
import { reserveTaskRuns } from "../storage/quota";
import { ARGS_DEPTH, nestsDeeperThan } from "../tasks/canonical";
import { type TaskRequest, type TaskServices, executeTask } from "../tasks/execute";
import { isTaskId } from "../tasks/ids";
import { taskLimits } from "../tasks/limits";

/** Most tasks in one batch. */
export const BATCH_LIMIT = 100;
/** Body caps: one task (program and arguments), and a whole batch. */
const TASK_BODY_BYTES = 1024 * 1024;
const BATCH_BODY_BYTES = 8 * 1024 * 1024;
const DEFAULT_CACHE_TTL = 3600;
const DEFAULT_HISTORY_TTL = 7 * 24 * 3600;
const PAGE_DEFAULT = 50;
const PAGE_MAX = 1000;

const FUNCTION_NAME = /^[A-Za-z_$][\w$]{0,127}$/;
const taskBody = z.object({
  program: z.string().min(1, "must be a non-empty string of JavaScript"),
  function: z.string().regex(FUNCTION_NAME, "must be a JavaScript identifier of at most 128 characters").default("main"),
  args: z.array(z.unknown()).default([]),
  timeoutMs: z.number().int().positive().max(600_000).optional(),
  cache: z.boolean().optional(),
});
const batchBody = z.object({ tasks: z.array(taskBody).max(BATCH_LIMIT, `at most ${BATCH_LIMIT} tasks per batch`) });
const statusParam = z.enum(["succeeded", "failed"]);

const cacheOf = (env: PeerEnv) => new ResultCache(env.KV, intVar(env.CACHE_TTL, DEFAULT_CACHE_TTL));
declare global {
  namespace Cloudflare {
    interface Env {
      /** Most task records history keeps (default 1000); older ones are deleted. */
      HISTORY_MAX_RECORDS?: string;
      /** Most MiB of history (records and the long programs they refer to; default 64). */
      HISTORY_MAX_MB?: string;
    }
  }
}

const historyOf = (env: PeerEnv) =>
  new TaskHistory(env.KV, Math.max(60, intVar(env.HISTORY_TTL, DEFAULT_HISTORY_TTL)), {
    records: intVar(env.HISTORY_MAX_RECORDS, DEFAULT_HISTORY_BOUNDS.records),
    bytes: intVar(env.HISTORY_MAX_MB, DEFAULT_HISTORY_BOUNDS.bytes / 1024 / 1024) * 1024 * 1024,
  });
const services = (env: PeerEnv, ctx: ExecutionContext): TaskServices => ({
  cache: cacheOf(env),
  history: historyOf(env),
  limits: taskLimits(env),
  peer: env.PEER_NAME,
  defer: (write) => ctx.waitUntil(write),
});

/**
 * The task when `data` is a well-formed one, exactly as `taskBody` would give it (unknown keys
 * dropped, defaults filled); null for anything else, which `taskBody` then explains. Skips zod
 * on the hot path (a cache hit is a handful of small steps).
 */
function wellFormedTask(data: unknown): TaskRequest | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const { program, function: fn = "main", args = [], timeoutMs, cache } = data as Record<string, unknown>;
  if (typeof program !== "string" || program.length === 0) return null;
  if (typeof fn !== "string" || !FUNCTION_NAME.test(fn)) return null;
  if (!Array.isArray(args)) return null;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && (timeoutMs as number) > 0 && (timeoutMs as number) <= 600_000))
    return null;
  if (cache !== undefined && typeof cache !== "boolean") return null;
  const task: TaskRequest = { program, function: fn, args };
  if (timeoutMs !== undefined) task.timeoutMs = timeoutMs as number;
  if (cache !== undefined) task.cache = cache;
  return task;
}

/** The task, once its arguments are known to nest no deeper than `ARGS_DEPTH` (400 otherwise). */
function boundedTask<T extends { args: unknown[] }>(task: T): T {
  if (nestsDeeperThan(task.args, ARGS_DEPTH)) throw badRequest(`args nest deeper than ${ARGS_DEPTH} levels.`);
  return task;
}

/**
 * One task's body. With a Content-Length under the cap (the runtime holds the body to it),
 * read natively in one call and checked by `wellFormedTask`; anything else — no length,
 * over the cap, not JSON, not a well-formed task — goes through `readJson`, which answers
 * the same errors as ever.
 */
async function readTask(request: Request): Promise<TaskRequest> {
  const declared = request.headers.get("content-length");
  if (declared === null || !(Number(declared) <= TASK_BODY_BYTES)) return boundedTask(await readJson(request, taskBody, TASK_BODY_BYTES));
  let text: string;
  try {
    text = await request.text();
  } catch {
    throw badRequest("The request body broke off before its end.");
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  return boundedTask(
    wellFormedTask(data) ?? (await readJson(new Request(request.url, { method: "POST", body: text }), taskBody, TASK_BODY_BYTES)),
  );
}

/** `POST /api/tasks` — `{"program", "function"?, "args"?, "timeoutMs"?, "cache"?}` */
export async function postTask(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const task = await readTask(request);
  const peer = services(env, ctx);
  await reserveTaskRuns(env, 1, peer.defer);
  return json((await executeTask(task, peer)) satisfies TaskResult);
}

/** `POST /api/tasks/batch` — `{"tasks": [task, …]}`, run one after another, answered in order. */
export async function postBatch(request: IRequest, env: PeerEnv, ctx: ExecutionContext): Promise<Response> {
  const tasks = (await readJson(request, batchBody, BATCH_BODY_BYTES)).tasks.map(boundedTask);
  const peer = services(env, ctx);
  await reserveTaskRuns(env, tasks.length, peer.defer);
  const results = [];
  for (const task of tasks) results.push(await executeTask(task, peer));
  return json({ results } satisfies TaskBatch);
}

/** `GET /api/tasks?limit=&cursor=&status=` — newest first. */
export async function listTasks(request: IRequest, env: PeerEnv): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const rawLimit = params.get("limit");
  const limit = rawLimit === null || rawLimit === "" ? PAGE_DEFAULT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) {
    throw badRequest(`"limit" must be a whole number from 1 to ${PAGE_MAX}.`);
  }
  const rawStatus = params.get("status");
  const status = rawStatus === null || rawStatus === "" ? undefined : statusParam.safeParse(rawStatus);
  if (status && !status.success) throw badRequest('"status" must be "succeeded" or "failed".');
  const cursor = params.get("cursor") || undefined;
  return json((await historyOf(env).list({ limit, cursor, status: status?.data })) satisfies TaskPage);
}

/** `GET /api/tasks/{id}` — the whole record. */
export async function getTask(request: IRequest, env: PeerEnv): Promise<Response> {
  const id = decodeParam(request.params.id, "task id");
  const record = isTaskId(id) ? await historyOf(env).get(id) : null;
  if (!record) throw notFound(`No task "${id}" in this peer's history.`);
  return json(record satisfies TaskRecord);
}

/** `DELETE /api/tasks` — clears the history. */
export async function clearTasks(_request: IRequest, env: PeerEnv): Promise<Response> {
  await historyOf(env).clear();
  return noContent();
}

/** `GET /api/cache` */
export async function getCache(_request: IRequest, env: PeerEnv): Promise<Response> {
  const cache = cacheOf(env);
  return json({ entries: await cache.count(), ttlSeconds: cache.ttlSeconds } satisfies CacheInfo);
}

/** `DELETE /api/cache` — drops every cached result. */
export async function clearCache(_request: IRequest, env: PeerEnv): Promise<Response> {
  await cacheOf(env).clear();
  return noContent();
}
