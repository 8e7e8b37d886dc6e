import { createHash } from "node:crypto";

/**
 * The KV key layout, in one place (docs/storage.md describes it). Prefixes keep each kind
 * of record in its own range so that one `list({prefix})` reads one kind.
 *
 * KV keys stop at 512 bytes. A key built from user input has a bound beside its function:
 * either the input's own (memory keys ≤ 480 bytes, checked in names.ts) or a fixed-length
 * digest of it (file names reach 1024 bytes: `sha:<name>` broke at 509).
 */
export const KV_PREFIX = {
  memory: "mem:",
  cache: "cache:",
  history: "hist:",
  /** Before per-version sidecars: `sha:<file name>`, read (and deleted) for older objects only. */
  legacyFileSha: "sha:",
  fileSha: "fsha:",
  replication: "repl:",
  program: "prog:",
  taskRuns: "runs:",
} as const;

/** KV's limit on a key, in bytes of UTF-8. */
export const KV_KEY_LIMIT = 512;

/** A user's memory key (≤ 480 bytes: `checkMemoryKey`). */
export const memoryKey = (key: string) => `${KV_PREFIX.memory}${key}`;

/** A cached task result, by the task's SHA-256. */
export const cacheKey = (hash: string) => `${KV_PREFIX.cache}${hash}`;

/** A history record, by task id (ids sort newest first: see `newTaskId`). */
export const historyKey = (id: string) => `${KV_PREFIX.history}${id}`;

/**
 * The SHA-256 of one version of a file, computed by the peer (the client sent none):
 * `fsha:<SHA-256 of the name>:<version ref>`, 102 bytes whatever the name. The ref is random,
 * chosen before the put and kept in the object's `customMetadata.shaRef`, so the digest can
 * be recorded before the object exists and a record never belongs to another version.
 */
export const fileShaKey = (name: string, ref: string) => `${KV_PREFIX.fileSha}${createHash("sha256").update(name).digest("hex")}:${ref}`;

/** The pre-`fsha:` sidecar of an object with no ref; null where such a key cannot exist. */
export function legacyFileShaKey(name: string): string | null {
  const key = `${KV_PREFIX.legacyFileSha}${name}`;
  return new TextEncoder().encode(key).byteLength <= KV_KEY_LIMIT ? key : null;
}

/** A long task program kept once for history, by its SHA-256 (71 bytes whatever the program). */
export const programKey = (sha256: string) => `${KV_PREFIX.program}${sha256}`;

/** The prefix of one peer's task counts: `runs:<SHA-256 of the peer's name, 8 hex>:`. */
export const taskRunsPrefix = (peer: string) => `${KV_PREFIX.taskRuns}${createHash("sha256").update(peer).digest("hex").slice(0, 8)}:`;

/**
 * One isolate's count of the tasks a peer answered in one minute: `<taskRunsPrefix>
 * <minutes counted down, 10 digits>:<isolate id, 8 hex>` (33 bytes), newest minute first.
 */
export const taskRunsKey = (prefix: string, minute: number, isolate: string) =>
  `${prefix}${String(9_999_999_999 - minute).padStart(10, "0")}:${isolate}`;

/** The minute a `taskRunsKey` counts. */
export const taskRunsMinute = (prefix: string, key: string) => 9_999_999_999 - Number(key.slice(prefix.length, prefix.length + 10));
