/** Deepest nesting of arrays and objects a task's arguments may have (canonical JSON recurses). */
export const ARGS_DEPTH = 64;

/**
 * Whether a JSON value nests arrays and objects deeper than `max` levels (the value itself is
 * level 1 when it is one). Walks with its own stack, so any depth is measured without
 * recursion.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * JSON text with object keys sorted at every depth, so that equal values give equal text
 * (`{"b":1,"a":2}` and `{"a":2,"b":1}` share one cache entry). Only for values that came
 * from `JSON.parse` and nest at most `ARGS_DEPTH` deep (it recurses): plain objects, arrays, strings, finite numbers, booleans and null.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}
