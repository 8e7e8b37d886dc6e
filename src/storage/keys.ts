/**
 * The KV key layout, in one place (docs/storage.md describes it). Prefixes keep each kind
 * of record in its own range so that one `list({prefix})` reads one kind.
 */
export const KV_PREFIX = {
  memory: "mem:",
  cache: "cache:",
  history: "hist:",
  fileSha: "sha:",
  quota: "quota:",
} as const;

/** A user's memory key. */
export const memoryKey = (key: string) => `${KV_PREFIX.memory}${key}`;

/** A cached task result, by the task's SHA-256. */
export const cacheKey = (hash: string) => `${KV_PREFIX.cache}${hash}`;

/** A history record, by task id (ids sort newest first: see `newTaskId`). */
export const historyKey = (id: string) => `${KV_PREFIX.history}${id}`;

/** The SHA-256 computed while streaming a file that arrived without one. */
export const fileShaKey = (name: string) => `${KV_PREFIX.fileSha}${name}`;
