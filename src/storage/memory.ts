import type { MemoryPage } from "../api/types";
import { KV_PREFIX, memoryKey } from "./keys";

/** Memory on KV: each value stored as its JSON text under `mem:<key>`. */
export class MemoryStore {
  constructor(private readonly kv: KVNamespace) {}

  async list(prefix: string, cursor: string | undefined, limit = 1000): Promise<MemoryPage> {
    const page = await this.kv.list({ prefix: memoryKey(prefix), cursor, limit });
    return {
      keys: page.keys.map((k) => ({
        key: k.name.slice(KV_PREFIX.memory.length),
        expires: k.expiration ? new Date(k.expiration * 1000).toISOString() : null,
      })),
      cursor: page.list_complete ? null : page.cursor,
    };
  }

  /** The value's JSON text, or null when absent. */
  get(key: string): Promise<string | null> {
    return this.kv.get(memoryKey(key), "text");
  }

  put(key: string, jsonText: string, ttlSeconds?: number): Promise<void> {
    return this.kv.put(memoryKey(key), jsonText, ttlSeconds ? { expirationTtl: ttlSeconds } : undefined);
  }

  /** Whether the key exists (without reading its value). */
  async has(key: string): Promise<boolean> {
    const existing = await this.kv.get(memoryKey(key), "stream");
    await existing?.cancel();
    return existing !== null;
  }

  /** False when the key did not exist. */
  async delete(key: string): Promise<boolean> {
    if (!(await this.has(key))) return false;
    await this.kv.delete(memoryKey(key));
    return true;
  }

  /** Number of memory keys (pages through them all). */
  async count(): Promise<number> {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await this.kv.list({ prefix: KV_PREFIX.memory, cursor });
      n += page.keys.length;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return n;
  }
}
