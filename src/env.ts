/**
 * The worker's bindings: `Env` comes from `wrangler types` (worker-configuration.d.ts, kept
 * in step by `npm run typegen`); secrets and optional vars are not in wrangler.toml, so
 * they are declared here.
 */
declare global {
  namespace Cloudflare {
    interface Env {
      /** Bearer token of this peer (a secret). */
      PEER_TOKEN?: string;
      /** Base URL other peers and share links use for this peer; defaults to PEERS[PEER_NAME] or the request's origin. */
      PUBLIC_URL?: string;
      /** Extra browser origins allowed by CORS besides the known peers': a JSON list or a comma list. */
      CORS_ORIGINS?: string;
    }
  }
}

export type PeerEnv = Env;
