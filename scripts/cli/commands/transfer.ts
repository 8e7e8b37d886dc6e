import { fileNameProblem } from "../../../src/api/names";
import { type PeerClient, PeerError, syncSummary, transferFile } from "../../../src/client/index";
import { UsageError } from "../args";
import type { Command } from "../command";
import type { Context } from "../context";
import { Progress, formatBytes, rate } from "../output";
import { modeOf, planOrUsage, runPlan, syncJson } from "./sync";

export const TRANSFER_USAGE =
  "--from PEER --to PEER[,PEER…] (--filename NAME | --prefix FOLDER) [--as NAME|FOLDER] [--mode pull|relay] [--concurrency N]";

export const transfer: Command = {
  name: "transfer",
  summary: "copy a file between peers (to several at once), verified by SHA-256 end to end",
  usage: TRANSFER_USAGE,
  flags: { from: "string", to: "string", filename: "string", prefix: "string", as: "string", mode: "string", concurrency: "string" },
  streams: true,
  run: (ctx) => runTransfer(ctx),
};

/**
 * Copies `--filename` from `--from` to every peer of `--to`, concurrently. Pull (default):
 * each destination fetches a signed link from the source. Relay: this process streams the
 * source's GET into each destination. Exit 1 when any destination failed; a failed
 * destination keeps no partial or wrong file.
 */
export async function runTransfer(ctx: Context): Promise<number> {
  if (ctx.flags.has("prefix")) return runFolderTransfer(ctx);
  const name = ctx.flags.required("filename");
  const mode = modeOf(ctx);
  const as = ctx.flags.string("as");
  // Refused here, before any peer is asked: a per-destination failure would be exit 1.
  const nameProblem = fileNameProblem(name);
  if (nameProblem) throw new UsageError(`--filename: ${nameProblem}`);
  const asProblem = as === undefined ? null : fileNameProblem(as);
  if (asProblem) throw new UsageError(`--as: ${asProblem}`);
  const toNames = destinationNames(ctx);

  const source = await resolvePeer(ctx, ctx.flags.required("from"));
  const destinations = await Promise.all(toNames.map((n) => resolvePeer(ctx, n)));
  for (const d of destinations) {
    if (d.url === source.url && (as ?? name) === name)
      throw new UsageError(`${d.name} is the source: a file cannot be copied onto itself.`);
  }

  const started = performance.now();
  const sent = new Map<string, number>();
  let total = 0;
  let bar: Progress | null = null;
  const tty = !ctx.json && Boolean(process.stderr.isTTY);
  if (tty && mode === "pull")
    process.stderr.write(`${source.name} → ${toNames.join(", ")}: the destination${toNames.length > 1 ? "s pull" : " pulls"} ${name}…`);

  const results = await Promise.allSettled(
    destinations.map((destination) =>
      transferFile(source, destination, name, {
        mode,
        as,
        onProgress: (bytes, size) => {
          if (!tty || mode !== "relay") return;
          bar ??= new Progress(`relay ${name}`, size * destinations.length, true);
          sent.set(destination.url, bytes);
          total = [...sent.values()].reduce((a, b) => a + b, 0);
          bar.update(total);
        },
      }),
    ),
  );
  (bar as Progress | null)?.done();
  if (tty && mode === "pull") process.stderr.write("\r\x1b[K");

  let failed = 0;
  const report = results.map((r, i) => {
    const to = destinations[i] as PeerClient;
    if (r.status === "fulfilled") return { ok: true as const, ...r.value };
    failed++;
    const err = r.reason as unknown;
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof PeerError ? err.code : "internal";
    return { to: to.name, ok: false as const, code, error: message };
  });
  if (ctx.json) ctx.printJson({ from: source.name, name, mode, results: report });
  for (const r of report) {
    if (r.ok) {
      if (!ctx.json)
        ctx.print(
          `${r.to}: ${r.name} ← ${source.name} (${mode}): ${formatBytes(r.size)}, sha256 ${r.sha256} verified (${rate(r.size, started)})`,
        );
    } else {
      process.stderr.write(`error: ${r.to}: ${r.error.startsWith(r.to) ? r.error.slice(r.to.length).replace(/^:\s*/, "") : r.error}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

/**
 * `transfer --prefix`: every file of a folder to each destination, by the sync engine without
 * deletes (what is already there with the same SHA-256 is skipped). Exit 1 when any file failed.
 */
async function runFolderTransfer(ctx: Context): Promise<number> {
  if (ctx.flags.has("filename")) throw new UsageError("Pass either --filename or --prefix, not both.");
  const prefix = ctx.flags.required("prefix");
  const mode = modeOf(ctx);
  const concurrency = ctx.flags.int("concurrency", 1);
  const as = ctx.flags.string("as");
  const source = await resolvePeer(ctx, ctx.flags.required("from"));
  const destinations = await Promise.all(destinationNames(ctx).map((n) => resolvePeer(ctx, n)));
  let code = 0;
  const reports = [];
  // One destination after another: each already moves `concurrency` files at once.
  for (const destination of destinations) {
    const plan = await planOrUsage(source, destination, { prefix, as });
    const report = await runPlan(ctx, source, destination, plan, { mode, concurrency, label: `→ ${destination.name}` });
    if (report.failed.length > 0 || report.interrupted) code = 1;
    if (ctx.json) reports.push(syncJson(source, destination, report, mode));
    else {
      for (const f of report.failed) process.stderr.write(`error: ${destination.name}: ${f.action.to}: ${f.message}\n`);
      ctx.print(`${destination.name}: ${syncSummary(report, formatBytes)}`);
    }
    if (report.interrupted) break;
  }
  if (ctx.json) ctx.printJson({ from: source.name, prefix, mode, results: reports });
  return code;
}

function destinationNames(ctx: Context): string[] {
  const names = [
    ...new Set(
      ctx.flags
        .required("to")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (names.length === 0) throw new UsageError("--to needs at least one peer.");
  return names;
}

/** A peer by its name in the network file, or by a URL (with its token from the file when listed). */
export async function resolvePeer(ctx: Context, ref: string): Promise<PeerClient> {
  if (/^https?:\/\//.test(ref)) {
    const listed = (await ctx.network())?.peers.find((p) => p.url.replace(/\/+$/, "") === ref.replace(/\/+$/, ""));
    return ctx.clientFor(listed ?? { name: ref, url: ref, token: ctx.flags.string("token") ?? process.env.EDGEPEER_TOKEN });
  }
  return ctx.peerClient(ref);
}
