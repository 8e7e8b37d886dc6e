// Bundles the Node entry points (CLI, transfer script, network runner) into dist/ with
// esbuild: runs on `npm install` (prepare) and before `npm start` / `npm run transfer`, in
// well under a second. Dependencies stay external (node_modules). Plain JS, so it needs no
// TypeScript loader itself.
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist");
const temp = join(root, `dist.tmp-${process.pid}`);

try {
  await build({
    absWorkingDir: root,
    entryPoints: { cli: "scripts/cli.ts", transfer: "scripts/transfer.ts", network: "scripts/network.ts" },
    outdir: temp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: "error",
  });
  // File by file with rename, so a concurrent run never sees a half-written bundle.
  await mkdir(out, { recursive: true });
  for (const file of await readdir(temp)) await rename(join(temp, file), join(out, file));
} catch (err) {
  console.error(`build failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
} finally {
  await rm(temp, { recursive: true, force: true });
}
