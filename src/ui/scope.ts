/** What the signed-in token may do, as far as the UI needs to know to hide what it cannot. */
export interface UiScope {
  /** The peer token (or a peer with AUTH = "none"): everything, managing access included. */
  peer: boolean;
  ops: ReadonlySet<string>;
  /** Every name it touches starts with this ("" for all). */
  prefix: string;
}

const EVERYTHING: UiScope = { peer: true, ops: new Set(["read", "write", "delete", "memory", "tasks"]), prefix: "" };

/**
 * The scope of a token. A scoped token (`ept1_<scope>.<sig>`) carries its scope in clear
 * (the peer checks the signature; the UI only reads it to hide what would be refused);
 * anything else is the peer token.
 */
export function scopeOf(token: string): UiScope {
  const match = /^ept1_([A-Za-z0-9_-]+)\.[0-9a-f]+$/.exec(token);
  if (!match?.[1]) return EVERYTHING;
  try {
    const binary = atob(match[1].replace(/-/g, "+").replace(/_/g, "/"));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const payload = JSON.parse(json) as { o?: unknown; p?: unknown };
    const ops = Array.isArray(payload.o) ? payload.o.filter((o): o is string => typeof o === "string") : [];
    return { peer: false, ops: new Set(ops), prefix: typeof payload.p === "string" ? payload.p : "" };
  } catch {
    return { peer: false, ops: new Set(), prefix: "" };
  }
}
