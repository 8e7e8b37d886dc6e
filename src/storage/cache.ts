import { sha256Hex } from "../http/crypto";
import { KV_PREFIX, cacheKey } from "./keys";
import { cacheWrites } from "./pending";

/** KV refuses an `expirationTtl` under 60 seconds; a shorter CACHE_TTL is enforced on read. */
const KV_MIN_TTL = 60;

/** Metadata of a cache entry: when it stops counting, in ms since the epoch. */
interface CacheMeta {
  expiresAt: number;
}

/** What makes two tasks the same task: program, function and arguments (canonical JSON). */
export interface TaskIdentity {
  program: string;
  function: string;
  argsJson: string;
}

/** Digests of recent identities, per isolate, most recent last: a client repeating a task hashes it once. */
const recentHashes = new Map<string, Promise<string>>();
const RECENT_HASHES = 256;
/** Identities longer than this are hashed every time (the memo would hold their text). */
const RECENT_HASH_CHARS = 16 * 1024;

/** SHA-256 of a task's identity; the three parts are JSON-encoded so no two tasks collide by concatenation. */
export function taskHash(task: TaskIdentity): Promise<string> {
  const text = JSON.stringify([task.program, task.function, task.argsJson]);
  if (text.length > RECENT_HASH_CHARS) return sha256Hex(text);
  let hash = recentHashes.get(text);
  if (hash) {
    recentHashes.delete(text);
  } else {
    hash = sha256Hex(text);
    if (recentHashes.size >= RECENT_HASHES) recentHashes.delete(recentHashes.keys().next().value!);
  }
  recentHashes.set(text, hash);
  return hash;
}

/**
 * Succeeded task results on KV, under `cache:<sha256>`: the value is the result's JSON text,
 * the metadata `{"expiresAt"}`. KV drops the key after `max(60, ttl)` seconds; `expiresAt`
 * enforces a shorter TTL on read.
 */
export class ResultCache {
  constructor(
    private readonly kv: KVNamespace,
    readonly ttlSeconds: number,
  ) {}

  /** The cached result's JSON text, or null when absent or expired. */
  async get(hash: string, now = Date.now()): Promise<string | null> {
    await cacheWrites.settled();
    const { value, metadata } = await this.kv.getWithMetadata<CacheMeta>(cacheKey(hash), "text");
    if (value === null || !metadata || metadata.expiresAt <= now) return null;
    return value;
  }

  /** Keeps a result's JSON text for `ttlSeconds`; reads in this isolate wait for the write. */
  put(hash: string, resultJson: string, now = Date.now()): Promise<void> {
    const metadata: CacheMeta = { expiresAt: now + this.ttlSeconds * 1000 };
    return cacheWrites.track(this.kv.put(cacheKey(hash), resultJson, { expirationTtl: Math.max(KV_MIN_TTL, this.ttlSeconds), metadata }));
  }

  /** Number of entries that still count. */
  async count(now = Date.now()): Promise<number> {
    await cacheWrites.settled();
    return cacheEntries(this.kv, now);
  }

  /** Drops every cached result. */
  async clear(): Promise<void> {
    await cacheWrites.settled();
    await deleteAllUnder(this.kv, KV_PREFIX.cache);
  }
}

/** Number of cached task results that have not expired. */
export async function cacheEntries(kv: KVNamespace, now = Date.now()): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await kv.list<CacheMeta>({ prefix: KV_PREFIX.cache, cursor });
    n += page.keys.filter((k) => !k.metadata || k.metadata.expiresAt > now).length;
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return n;
}

/** Deletes every key under a prefix, a page at a time. */
export async function deleteAllUnder(kv: KVNamespace, prefix: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix, cursor });
    for (let i = 0; i < page.keys.length; i += 50) {
      await Promise.all(page.keys.slice(i, i + 50).map((k) => kv.delete(k.name)));
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
}
