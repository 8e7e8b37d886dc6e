import type { Stats } from "../api/types";
import type { PeerEnv } from "../env";
import { json } from "../http/json";
import { cacheEntries } from "../storage/cache";
import { fileStore } from "./files";
import { taskStats } from "../storage/history";
import { MemoryStore } from "../storage/memory";

/** `GET /api/stats` — files, memory, tasks and cache, counted from storage. */
export async function stats(_request: Request, env: PeerEnv): Promise<Response> {
  const [files, keys, tasks, entries] = await Promise.all([
    fileStore(env).usage(),
    new MemoryStore(env.KV).count(),
    taskStats(env.KV),
    cacheEntries(env.KV),
  ]);
  return json({ files, memory: { keys }, tasks, cache: { entries } } satisfies Stats);
}
