import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { PEER2, TEST_TOKEN } from "./test/support/peers.ts";

// No network here: never fetch Request.cf data, never send telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

/**
 * Worker tests run inside workerd against the real local R2 and KV. The worker under test
 * is the default peer of wrangler.toml ("local"); a second, separately bound peer ("peer2",
 * the same code bundled by test/support/build-peer.ts) answers at http://peer2.test, so pull,
 * isolation and foreign tokens are tested between two real peers. Every fetch the peer makes
 * passes through test/support/outbound-worker.js, which logs it (a refused pull fetched nothing).
 */
const workerProject = {
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          PEER_TOKEN: TEST_TOKEN,
          PEERS: JSON.stringify({ local: "http://local.test", peer2: PEER2.url }),
          PUBLIC_URL: "http://local.test",
          CACHE_TTL: "3600",
          // Worker tests pin limits by counted work; the clock backstop (default 500 ms) is
          // tested with its own limits, so a busy machine never changes which limit stops a task.
          TASK_TIME_MS: "60000",
        },
        serviceBindings: { PEER2: "peer2", OUTBOUND: "outbound" },
        // Every fetch the peer makes goes through a logging stand-in for the network (peer2 behind it).
        outboundService: "outbound",
        workers: [
          {
            name: "outbound",
            modules: true,
            scriptPath: "./test/support/outbound-worker.js",
            compatibilityDate: "2026-04-20",
            serviceBindings: { PEER2: "peer2" },
          },
          {
            name: "peer2",
            modules: true,
            scriptPath: "./.wrangler/test-peer/index.js",
            // The bundle imports the QuickJS sandbox as a compiled module beside it.
            modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
            compatibilityDate: "2026-04-20",
            compatibilityFlags: ["global_fetch_strictly_public", "nodejs_compat", "no_nodejs_compat_v2"],
            r2Buckets: { FILES: "peer2-files" },
            kvNamespaces: { KV: "peer2-kv" },
            // Its own Durable Objects (the classes of its own bundle), as a deployed peer has.
            durableObjects: {
              QUOTA: { className: "StorageQuota", useSQLite: true },
              DAV_STATE: { className: "DavState", useSQLite: true },
              ACCESS: { className: "AccessRegistry", useSQLite: true },
            },
            bindings: {
              PEER_NAME: "peer2",
              PEER_TOKEN: PEER2.token,
              AUTH: "token",
              PEERS: JSON.stringify({ local: "http://local.test" }),
              PUBLIC_URL: PEER2.url,
              CACHE_TTL: "3600",
            },
          },
        ],
      },
    }),
  ],
  test: {
    name: "worker",
    include: ["test/worker/**/*.test.ts"],
    globalSetup: ["./test/support/build-peer.ts"],
    // A hang guard, not a speed bound: on a loaded machine a worker test may pass vitest's default 5 s.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
};

/** Tests that run in Node: real processes (wrangler, the network, the CLI) and browsers. */
const nodeProject = {
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
};

export default defineConfig({
  test: {
    projects: [workerProject, nodeProject],
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
