/**
 * One bounded-concurrency runner for the peer (batch links and pulls) and the client (sync):
 * both need "N at a time, answers in order", and one copy keeps their semantics alike.
 */

/**
 * Runs `work` on the items in order, at most `limit` at once, until `stopped()` says so.
 * Resolves, once every started item has settled, to the answers of the items started: a prefix
 * of `items`, in their order (all of them unless stopped).
 */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  stopped: () => boolean = () => false,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) {
      const index = next++;
      out[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  out.length = next;
  return out;
}
