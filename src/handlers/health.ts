import type { Health, PeerList } from "../api/types";
import type { PeerEnv } from "../env";
import { knownPeers } from "../config";
import { json } from "../http/json";
import { VERSION } from "../version";

/** `GET /api/health` — public. */
export function health(_request: Request, env: PeerEnv): Response {
  return json({ peer: env.PEER_NAME, version: VERSION, time: new Date().toISOString() } satisfies Health);
}

/** `GET /api/peers` — the peers this one knows. */
export function peers(_request: Request, env: PeerEnv): Response {
  return json({ peers: knownPeers(env) } satisfies PeerList);
}
