/**
 * Bundles the peer worker exactly as a deploy would (`wrangler deploy --dry-run`), once per
 * version of the sources: the bundle and the Miniflare options wrangler derives from
 * wrangler.toml (compatibility, module rules) are cached under
 * `.wrangler/edgepeer-bundle/<hash>/`, keyed by a hash of src/, wrangler.toml and
 * package-lock.json. A cache hit costs one walk over src/ and no wrangler at all.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = join(ROOT, ".wrangler/edgepeer-bundle");
/** Bumped when what is cached changes shape. */
const FORMAT = "4";

/** What Miniflare needs to run the bundle as the peer wrangler.toml describes. */
export interface WorkerBundle {
  dir: string;
  scriptPath: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Plain vars of wrangler.toml's top level (PEER_NAME, AUTH, CACHE_TTL…): each peer's defaults. */
  vars: Record<string, string>;
  /** Binding names of the R2 buckets and KV namespaces the worker expects. */
  r2Bindings: string[];
  kvBindings: string[];
  /**
   * Durable Object bindings → class (exported by src/index.ts) and Queue producers/consumers,
   * as wrangler.toml declares them: a new one there needs no change here (docs/storage.md).
   */
  durableObjects: Record<string, { className: string; useSQLite?: boolean }>;
  queueProducers: Record<string, { queueName: string; deliveryDelay?: number }>;
  queueConsumers: Record<
    string,
    { maxBatchSize?: number; maxBatchTimeout?: number; maxRetries?: number; deadLetterQueue?: string; retryDelay?: number }
  >;
  modulesRules: {
    type: "ESModule" | "CommonJS" | "Text" | "Data" | "CompiledWasm" | "PythonModule" | "PythonRequirement";
    include: string[];
    fallthrough?: boolean;
  }[];
}

/** Environment for anything that runs wrangler here: no Request.cf download, no telemetry. */
export const OFFLINE_ENV = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** The cached bundle of the current sources, building it first when there is none. */
export async function buildWorker(options: { log?: (line: string) => void } = {}): Promise<WorkerBundle> {
  const hash = await sourceHash();
  const dir = join(CACHE, hash);
  const manifest = join(dir, "bundle.json");
  if (existsSync(manifest)) {
    const cached = JSON.parse(await readFile(manifest, "utf8")) as WorkerBundle;
    return { ...cached, dir, scriptPath: join(dir, "index.js") };
  }

  options.log?.("bundling the worker (wrangler deploy --dry-run)…");
  const temp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await rm(temp, { recursive: true, force: true });
  try {
    await run(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", temp, "--env="], {
      cwd: ROOT,
      env: OFFLINE_ENV,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    const stderr = (err as { stderr?: string }).stderr ?? "";
    const reason = stderr.split("\n").find((l) => /ERROR|✘/.test(l)) ?? (err as Error).message;
    throw new Error(`Bundling the worker failed: ${reason.trim()}`);
  }
  const bundle: WorkerBundle = { dir, scriptPath: join(dir, "index.js"), ...(await workerOptions()) };
  await writeFile(join(temp, "bundle.json"), JSON.stringify(bundle, null, 2));
  await mkdir(CACHE, { recursive: true });
  try {
    await rename(temp, dir);
  } catch {
    // Another process built the same sources at the same time: theirs is as good.
    await rm(temp, { recursive: true, force: true });
  }
  await pruneCache(hash);
  return bundle;
}

/** Compatibility and module rules from wrangler.toml, read by wrangler itself. */
async function workerOptions(): Promise<Omit<WorkerBundle, "dir" | "scriptPath">> {
  const wrangler = await import("wrangler");
  const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"), undefined);
  return {
    compatibilityDate: workerOptions.compatibilityDate ?? "2026-04-20",
    compatibilityFlags: workerOptions.compatibilityFlags ?? [],
    modulesRules: (workerOptions.modulesRules ?? []) as WorkerBundle["modulesRules"],
    vars: Object.fromEntries(Object.entries(workerOptions.bindings ?? {}).filter((e): e is [string, string] => typeof e[1] === "string")),
    r2Bindings: Object.keys(workerOptions.r2Buckets ?? {}),
    kvBindings: Object.keys(workerOptions.kvNamespaces ?? {}),
    durableObjects: Object.fromEntries(
      Object.entries(workerOptions.durableObjects ?? {}).map(([binding, d]) => {
        const spec = (typeof d === "string" ? { className: d } : d) as { className: string; useSQLite?: boolean };
        return [binding, { className: spec.className, ...(spec.useSQLite !== undefined && { useSQLite: spec.useSQLite }) }];
      }),
    ),
    queueProducers: Object.fromEntries(
      Object.entries(workerOptions.queueProducers ?? {}).map(([binding, q]) => [binding, typeof q === "string" ? { queueName: q } : q]),
    ) as WorkerBundle["queueProducers"],
    queueConsumers: (Array.isArray(workerOptions.queueConsumers)
      ? Object.fromEntries(workerOptions.queueConsumers.map((q) => [q, {}]))
      : (workerOptions.queueConsumers ?? {})) as WorkerBundle["queueConsumers"],
  };
}

/** SHA-256 over every file that goes into the bundle. */
async function sourceHash(): Promise<string> {
  const hash = createHash("sha256").update(FORMAT);
  const files = [...(await walk(join(ROOT, "src"))), join(ROOT, "wrangler.toml"), join(ROOT, "package-lock.json")];
  for (const file of files.sort()) {
    hash.update(relative(ROOT, file)).update("\0");
    hash.update(existsSync(file) ? await readFile(file) : "").update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Keeps the cache small: drops bundles of older sources (a few stay for other checkouts' runs). */
async function pruneCache(keep: string): Promise<void> {
  const entries = await readdir(CACHE, { withFileTypes: true }).catch(() => []);
  const old = entries.filter((e) => e.isDirectory() && e.name !== keep && !e.name.includes(".tmp-"));
  if (old.length <= 4) return;
  const { stat } = await import("node:fs/promises");
  const dated = await Promise.all(old.map(async (e) => ({ name: e.name, t: (await stat(join(CACHE, e.name))).mtimeMs })));
  dated.sort((a, b) => a.t - b.t);
  for (const e of dated.slice(0, dated.length - 4)) await rm(join(CACHE, e.name), { recursive: true, force: true });
}
