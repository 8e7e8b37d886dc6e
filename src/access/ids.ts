/**
 * The registry's ids, apart from the registry: code that only checks or makes an id (share
 * links, the CLI-side tools, Node scripts) must not import the Durable Object class, whose
 * module (`cloudflare:workers`) loads only in workerd.
 */

/** A fresh random id: 32 hex digits (128 bits), the only shape of key the registry builds. */
export function newAccessId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Whether `id` has the shape `newAccessId` makes (anything else is refused before storage). */
export const isAccessId = (id: string) => /^[0-9a-f]{32}$/.test(id);
