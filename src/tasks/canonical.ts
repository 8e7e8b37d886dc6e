/**
 * JSON text with object keys sorted at every depth, so that equal values give equal text
 * (`{"b":1,"a":2}` and `{"a":2,"b":1}` share one cache entry). Only for values that came
 * from `JSON.parse`: plain objects, arrays, strings, finite numbers, booleans and null.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}
