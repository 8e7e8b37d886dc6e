import { intVar } from "../config";
import type { PeerEnv } from "../env";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Wall-clock milliseconds a task may run where the clock moves during CPU work (default 500). */
      TASK_TIME_MS?: string;
    }
  }
}

/** What one task may use; each limit, when hit, makes the task `failed`. */
export interface TaskLimits {
  /** Heap of the task's QuickJS runtime (`TASK_MEMORY_MB`). */
  memoryBytes: number;
  /**
   * CPU budget in interrupt checks (`TASK_CPU_BUDGET`) of 10,000 polls each (a poll is a
   * loop back-edge or call), plus `POLLS_PER_JOB` per promise job: the count measures work
   * done, not wall time (which does not move during CPU work on the platform).
   */
  cpuBudget: number;
  /**
   * Wall-clock backstop in ms (`TASK_TIME_MS`), checked every few polls (`POLL_SLICE_MAX` at most): it bounds
   * work inside built-ins, which the budget cannot see, wherever the clock moves during CPU
   * work (locally: workerd; not on the platform, where the Workers CPU limit is the backstop).
   */
  timeMs: number;
  /** Stack of the task's interpreter (`TASK_STACK_KB`): bounds recursion depth. */
  stackBytes: number;
  /** UTF-8 size of the result's JSON text (`TASK_RESULT_BYTES`). */
  resultBytes: number;
}

export const DEFAULT_LIMITS: TaskLimits = {
  memoryBytes: 32 * 1024 * 1024,
  cpuBudget: 10_000,
  timeMs: 500,
  stackBytes: 256 * 1024,
  resultBytes: 256 * 1024,
};

/**
 * Interrupt checks per millisecond of a tight loop, measured in workerd; turns a task's
 * `timeoutMs` into a share of the CPU budget (docs/tasks.md).
 */
export const CHECKS_PER_MS = 15;

/** The limits set by this peer's vars, or their defaults. */
export function taskLimits(env: PeerEnv): TaskLimits {
  return {
    memoryBytes: intVar(env.TASK_MEMORY_MB, DEFAULT_LIMITS.memoryBytes / 1024 / 1024) * 1024 * 1024,
    cpuBudget: intVar(env.TASK_CPU_BUDGET, DEFAULT_LIMITS.cpuBudget),
    timeMs: intVar(env.TASK_TIME_MS, DEFAULT_LIMITS.timeMs),
    stackBytes: intVar(env.TASK_STACK_KB, DEFAULT_LIMITS.stackBytes / 1024) * 1024,
    resultBytes: intVar(env.TASK_RESULT_BYTES, DEFAULT_LIMITS.resultBytes),
  };
}

/** The limits of one task: `timeoutMs`, when given, can only shrink the CPU budget. */
export function withTimeout(limits: TaskLimits, timeoutMs: number | undefined): TaskLimits {
  if (timeoutMs === undefined) return limits;
  return { ...limits, cpuBudget: Math.max(1, Math.min(limits.cpuBudget, Math.ceil(timeoutMs * CHECKS_PER_MS))) };
}
