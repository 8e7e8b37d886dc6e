import { execFileSync } from "node:child_process";

/**
 * Vitest global setup: bundles the worker with wrangler (exactly as a deploy would) so the
 * second test peer runs the same code as the peer under test.
 */
export default function buildPeer(): void {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", ".wrangler/test-peer", "--env="], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
}
