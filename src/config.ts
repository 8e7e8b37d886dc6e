import type { PeerEnv } from "./env";

/** A peer this one knows, from the `PEERS` var. */
export interface KnownPeer {
  name: string;
  url: string;
}

const peersCache = new Map<string, KnownPeer[]>();

/** Parses `PEERS` (JSON name → URL) once per isolate; a malformed value counts as no peers. */
export function knownPeers(env: PeerEnv): KnownPeer[] {
  const raw = env.PEERS ?? "{}";
  const cached = peersCache.get(raw);
  if (cached) return cached;
  let peers: KnownPeer[] = [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      peers = Object.entries(parsed as Record<string, unknown>)
        .filter((e): e is [string, string] => typeof e[1] === "string" && URL.canParse(e[1]))
        .map(([name, url]) => ({ name, url: url.replace(/\/+$/, "") }));
    }
  } catch {
    console.error("PEERS is not valid JSON; this peer knows no other peer.");
  }
  peersCache.set(raw, peers);
  return peers;
}

/** The base URL under which this peer is reached, for the links it signs. */
export function publicUrl(env: PeerEnv, request: Request): string {
  return selfUrl(env) ?? new URL(request.url).origin;
}

/** This peer's own base URL when configured (PUBLIC_URL, or its entry in PEERS): what background work signs links with. */
export function selfUrl(env: PeerEnv): string | null {
  if (env.PUBLIC_URL) return env.PUBLIC_URL.replace(/\/+$/, "");
  return knownPeers(env).find((p) => p.name === env.PEER_NAME)?.url ?? null;
}

/** A positive integer var, or its default when unset or malformed. */
export function intVar(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}
