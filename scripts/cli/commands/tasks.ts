import { readFile } from "node:fs/promises";
import { PeerError } from "../../../src/client/index";
import { UsageError } from "../args";
import type { Command } from "../command";
import { table } from "../output";

export const run: Command = {
  name: "run",
  aliases: ["cpu"],
  summary: "run a JavaScript function in the peer's sandbox (exit 1 when the task fails)",
  usage: "(--program CODE | --program-file PATH) [--function main] [--args JSON-ARRAY] [--timeout MS] [--no-cache]",
  flags: { program: "string", "program-file": "string", function: "string", args: "string", timeout: "string", "no-cache": "boolean" },
  async run(ctx) {
    const inline = ctx.flags.string("program");
    const file = ctx.flags.string("program-file");
    if ((inline === undefined) === (file === undefined))
      throw new UsageError("Pass exactly one of --program and --program-file.", this.usage);
    const program =
      inline ??
      (await readFile(file as string, "utf8").catch((err: Error) => {
        throw new PeerError("bad_request", `Cannot read ${file}: ${err.message}.`);
      }));
    let args: unknown[] = [];
    const rawArgs = ctx.flags.string("args");
    if (rawArgs !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawArgs);
      } catch {
        throw new UsageError(`--args must be a JSON array, e.g. '[1, 2]'.`, this.usage);
      }
      args = Array.isArray(parsed) ? parsed : [parsed];
    }
    const client = await ctx.client();
    const result = await client.runTask({
      program,
      function: ctx.flags.string("function") ?? "main",
      args,
      timeoutMs: ctx.flags.int("timeout", 1),
      cache: !ctx.flags.bool("no-cache"),
    });
    if (ctx.json) ctx.printJson(result);
    else if (result.status === "succeeded") ctx.print(JSON.stringify(result.result));
    if (result.status !== "succeeded") {
      if (!ctx.json) process.stderr.write(`error: the task failed on ${result.peer}: ${result.error ?? "no reason given"}\n`);
      return 1;
    }
    return 0;
  },
};

export const history: Command = {
  name: "history",
  summary: "the task history of a peer, newest first",
  usage: "[--limit N] [--status succeeded|failed]",
  flags: { limit: "string", status: "string", clear: "boolean" },
  async run(ctx) {
    const client = await ctx.client();
    if (ctx.flags.bool("clear")) {
      await client.clearHistory();
      return ctx.json ? ctx.printJson({ cleared: true }) : ctx.print(`cleared the task history of ${client.name}`);
    }
    const status = ctx.flags.string("status");
    if (status !== undefined && status !== "succeeded" && status !== "failed")
      throw new UsageError("--status is succeeded or failed.", this.usage);
    const page = await client.listTasks({ limit: ctx.flags.int("limit", 1), status });
    if (ctx.json) return ctx.printJson(page);
    if (page.tasks.length === 0) return ctx.print(`no tasks on ${client.name}`);
    ctx.print(
      table([
        ["ID", "STATUS", "FUNCTION", "MS", "CACHED", "WHEN", "RESULT"],
        ...page.tasks.map((t) => [
          t.id,
          t.status,
          t.function,
          String(t.durationMs),
          t.cached ? "yes" : "no",
          t.createdAt,
          (t.status === "succeeded" ? t.result : t.error) ?? "",
        ]),
      ]),
    );
  },
};

export const cache: Command = {
  name: "cache",
  summary: "the result cache of a peer; --clear drops every entry",
  usage: "[--clear]",
  flags: { clear: "boolean" },
  async run(ctx) {
    const client = await ctx.client();
    if (ctx.flags.bool("clear")) {
      await client.clearCache();
      return ctx.json ? ctx.printJson({ cleared: true }) : ctx.print(`cleared the result cache of ${client.name}`);
    }
    const info = await client.cacheInfo();
    if (ctx.json) ctx.printJson(info);
    else ctx.print(`${info.entries} cached result${info.entries === 1 ? "" : "s"}, kept ${info.ttlSeconds} s each`);
  },
};
