#!/usr/bin/env node
// The `edgepeer` command: runs the CLI built by `npm install` / `npm run build` (dist/), or,
// in a checkout that was never built, the TypeScript source through tsx.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli.js", import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../scripts/cli.ts", import.meta.url).href);
}
