import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("wrangler deploy --dry-run", () => {
  for (const env of ["peer1", "peer2", "peer3"]) {
    it(`bundles ${env} with its own bucket, namespace and name`, async () => {
      const outdir = `.wrangler/dry-run/${env}`;
      const { stdout } = await run("npx", ["wrangler", "deploy", "--dry-run", "--env", env, "--outdir", outdir], {
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
      });
      expect(stdout).toContain(`env.FILES (edgepeer-${env})`);
      expect(stdout).toContain(`env.PEER_NAME ("${env}")`);
      expect(stdout).toMatch(/env\.KV \(0+\d\)/);
      expect((await readFile(`${outdir}/index.js`, "utf8")).length).toBeGreaterThan(1000);
    });
  }
});
