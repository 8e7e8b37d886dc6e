import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ENVS = ["peer1", "peer2", "peer3"] as const;

interface DryRun {
  stdout: string;
  bundle: string;
  /** The resource behind a binding as wrangler prints it: `env.KV (<id>)`. */
  resource(binding: string): string | undefined;
}

const runs = new Map<string, DryRun>();

// Every test below works on its own: the dry runs are made here, whichever test runs.
beforeAll(async () => {
  await Promise.all(
    ENVS.map(async (env) => {
      const outdir = `.wrangler/dry-run/${env}`;
      const { stdout } = await run("npx", ["wrangler", "deploy", "--dry-run", "--env", env, "--outdir", outdir], {
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
      });
      const bundle = await readFile(`${outdir}/index.js`, "utf8");
      const resource = (binding: string) => new RegExp(`env\\.${binding} \\(([^)]*)\\)`).exec(stdout)?.[1];
      runs.set(env, { stdout, bundle, resource });
    }),
  );
}, 120_000);

describe("wrangler deploy --dry-run", () => {
  for (const env of ENVS) {
    it(`bundles ${env} with its own bucket, namespace and name`, () => {
      const dry = runs.get(env)!;
      expect(dry.resource("FILES")).toBe(`edgepeer-${env}`);
      expect(dry.resource("PEER_NAME")).toBe(`"${env}"`);
      expect(dry.resource("KV")).toMatch(/^[0-9a-f]{32}$/);
      expect(dry.bundle.length).toBeGreaterThan(1000);
    });
  }

  it("gives no two environments the same bucket, KV namespace, peer name or worker name", async () => {
    const distinct = (values: Array<string | undefined>) => {
      expect(values.every((v) => v !== undefined && v !== "")).toBe(true);
      expect(new Set(values).size).toBe(values.length);
    };
    distinct(ENVS.map((e) => runs.get(e)!.resource("FILES")));
    distinct(ENVS.map((e) => runs.get(e)!.resource("KV")));
    distinct(ENVS.map((e) => runs.get(e)!.resource("PEER_NAME")));
    const toml = await readFile("wrangler.toml", "utf8");
    distinct(ENVS.map((e) => new RegExp(`^\\[env\\.${e}\\]\\s*\\nname = "([^"]+)"`, "m").exec(toml)?.[1]));
  });
});
