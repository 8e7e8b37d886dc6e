import { KV_PREFIX } from "./keys";

/** Number of cached task results. */
export async function cacheEntries(kv: KVNamespace): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: KV_PREFIX.cache, cursor });
    n += page.keys.length;
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return n;
}
