import { intVar } from "../config";
import type { PeerEnv } from "../env";

/** What one task may use; each limit, when hit, makes the task `failed`. */
export interface TaskLimits {
  /** Heap of the task's QuickJS runtime (`TASK_MEMORY_MB`). */
  memoryBytes: number;
  /**
   * CPU budget in interrupt checks (`TASK_CPU_BUDGET`): QuickJS calls the interrupt handler
   * about every 10,000 branches or calls, so the count measures work done, not wall time
   * (which does not move during CPU work on the platform).
   */
  cpuBudget: number;
  /** Stack of the task's interpreter (`TASK_STACK_KB`): bounds recursion depth. */
  stackBytes: number;
  /** UTF-8 size of the result's JSON text (`TASK_RESULT_BYTES`). */
  resultBytes: number;
}

export const DEFAULT_LIMITS: TaskLimits = {
  memoryBytes: 32 * 1024 * 1024,
  cpuBudget: 10_000,
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
    stackBytes: intVar(env.TASK_STACK_KB, DEFAULT_LIMITS.stackBytes / 1024) * 1024,
    resultBytes: intVar(env.TASK_RESULT_BYTES, DEFAULT_LIMITS.resultBytes),
  };
}

/** The limits of one task: `timeoutMs`, when given, can only shrink the CPU budget. */
export function withTimeout(limits: TaskLimits, timeoutMs: number | undefined): TaskLimits {
  if (timeoutMs === undefined) return limits;
  return { ...limits, cpuBudget: Math.max(1, Math.min(limits.cpuBudget, Math.ceil(timeoutMs * CHECKS_PER_MS))) };
}
