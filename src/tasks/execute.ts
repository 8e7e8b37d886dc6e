import { type ResultCache, taskHash } from "../storage/cache";
import { sha256Hex } from "../http/crypto";
import { PROGRAM_INLINE_CHARS, type TaskHistory, type TaskRecord } from "../storage/history";
import { canonicalJson } from "./canonical";
import { newTaskId } from "./ids";
import { type TaskLimits, withTimeout } from "./limits";
import { runTask } from "./sandbox";

/** A task as the API receives it, already validated. */
export interface TaskRequest {
  program: string;
  function: string;
  args: unknown[];
  timeoutMs?: number;
  /** False bypasses the result cache (neither read nor written). */
  cache?: boolean;
}

/** The answer to one task: `POST /api/tasks`, one element of a batch. */
export interface TaskAnswer {
  id: string;
  status: TaskRecord["status"];
  result?: unknown;
  error?: string;
  cached: boolean;
  durationMs: number;
  peer: string;
}

/** What running tasks needs from the peer. */
export interface TaskServices {
  cache: ResultCache;
  history: TaskHistory;
  limits: TaskLimits;
  peer: string;
  /** Keeps a write going after the answer (`ctx.waitUntil`). */
  defer: (write: Promise<void>) => void;
}

/**
 * Runs one task: from the result cache when an identical task succeeded within the TTL,
 * otherwise in the sandbox (a succeeded result is then cached). Either way the task is
 * recorded in history. The answer does not wait for those writes (see `PendingWrites`).
 * Never throws for anything the program does.
 */
export async function executeTask(task: TaskRequest, services: TaskServices): Promise<TaskAnswer> {
  const createdAt = new Date().toISOString();
  const id = newTaskId();
  const argsJson = canonicalJson(task.args);
  const useCache = task.cache !== false;
  const started = performance.now();

  const hash = useCache ? await taskHash({ program: task.program, function: task.function, argsJson }) : null;
  const hit = hash ? await services.cache.get(hash) : null;
  let outcome: { status: "succeeded"; resultJson: string } | { status: "failed"; error: string };
  if (hit !== null) {
    outcome = { status: "succeeded", resultJson: hit };
  } else {
    outcome = await runTask({ program: task.program, function: task.function, argsJson }, withTimeout(services.limits, task.timeoutMs));
  }
  const durationMs = Math.round(performance.now() - started);
  if (hash && hit === null && outcome.status === "succeeded") services.defer(services.cache.put(hash, outcome.resultJson));

  const answer: TaskAnswer = {
    id,
    status: outcome.status,
    ...(outcome.status === "succeeded" ? { result: JSON.parse(outcome.resultJson) as unknown } : { error: outcome.error }),
    cached: hit !== null,
    durationMs,
    peer: services.peer,
  };
  // A long program is kept once in history, by its digest; a short one stays in the record.
  const programSha = task.program.length > PROGRAM_INLINE_CHARS ? await sha256Hex(task.program) : undefined;
  services.defer(
    services.history.add(
      {
        id,
        status: answer.status,
        function: task.function,
        program: task.program,
        args: task.args,
        ...(answer.status === "succeeded" ? { result: answer.result } : { error: answer.error }),
        cached: answer.cached,
        durationMs,
        createdAt,
        peer: services.peer,
      },
      programSha,
    ),
  );
  return answer;
}
