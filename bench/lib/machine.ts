import { readFileSync } from "node:fs";
import { cpus, release, totalmem, type as osType } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/build-worker";
import type { Machine } from "./types";

const versionOf = (pkg: string) => {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
};

/** What the figures were measured on. */
export function machine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${osType()} ${release()}`,
    node: process.version,
    wrangler: versionOf("wrangler"),
    miniflare: versionOf("miniflare"),
    workerd: versionOf("workerd"),
  };
}
