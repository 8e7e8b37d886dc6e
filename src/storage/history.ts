/** Task counters for `GET /api/stats`. Placeholder until the task history lands. */
export interface TaskStats {
  total: number;
  succeeded: number;
  failed: number;
  cached: number;
  avgDurationMs: number;
}

export async function taskStats(_kv: KVNamespace): Promise<TaskStats> {
  return { total: 0, succeeded: 0, failed: 0, cached: 0, avgDurationMs: 0 };
}
