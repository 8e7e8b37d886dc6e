import { PeerError } from "../../src/client/index";
import { type FlagKind, Flags, UsageError, parseArgs } from "./args";
import type { Command } from "./command";
import * as files from "./commands/files";
import * as info from "./commands/info";
import * as memory from "./commands/memory";
import * as tasks from "./commands/tasks";
import { transfer } from "./commands/transfer";
import { createContext } from "./context";
import { collectGarbageWhileStreaming } from "./gc";

/** Flags every command takes: which peer, which token, how to print. */
export const GLOBAL_FLAGS: Record<string, FlagKind> = {
  host: "string",
  port: "string",
  url: "string",
  peer: "string",
  network: "string",
  token: "string",
  json: "boolean",
  help: "boolean",
  "multipart-threshold": "string",
  "part-size": "string",
};

export const COMMANDS: Command[] = [
  files.putFile,
  files.getFile,
  files.listFiles,
  files.deleteFile,
  files.share,
  files.findFile,
  transfer,
  memory.setMem,
  memory.getMem,
  memory.listMem,
  memory.delMem,
  tasks.run,
  tasks.history,
  tasks.cache,
  info.stats,
  info.health,
  info.peers,
];

const GLOBAL_USAGE = `usage: edgepeer [--peer NAME | --url URL | --host H --port P] [--token T] [--network FILE] [--json] <command> [options]

Which peer: --peer NAME (from the network file, default .peers/network.json), --url URL, or
--host H --port P (as client.py). Default: the first peer of the network file, else
http://127.0.0.1:8787. Token: --token, else EDGEPEER_TOKEN, else the network file's.
Multipart: --multipart-threshold SIZE (default 64MiB), --part-size SIZE (default 16MiB).`;

function help(command?: Command): string {
  if (command) return `usage: edgepeer ${command.name} ${command.usage}\n\n${command.summary}.`;
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `${GLOBAL_USAGE}\n\ncommands:\n${lines.join("\n")}\n\nedgepeer <command> --help shows a command's options.`;
}

const find = (name: string | undefined) => COMMANDS.find((c) => c.name === name || c.aliases?.includes(name ?? ""));

/**
 * Runs the CLI on `argv` (without node and script) and resolves to the exit code:
 * 0 success, 1 the operation failed, 2 a usage error. Errors are one line on stderr.
 */
export async function main(argv: string[], only?: Command): Promise<number> {
  let command: Command | undefined = only;
  try {
    // The command decides which flags exist, so find it before parsing the rest.
    const kinds = (name: string): FlagKind | undefined => GLOBAL_FLAGS[name] ?? command?.flags[name] ?? anyCommandFlag(name);
    const parsed = parseArgs(argv, kinds);
    if (!only) {
      if (parsed.command === "help" || (parsed.command === undefined && parsed.flags.has("help"))) {
        process.stdout.write(`${help()}\n`);
        return 0;
      }
      if (parsed.command === undefined) throw new UsageError("No command given.");
      command = find(parsed.command);
      if (!command) throw new UsageError(`Unknown command "${parsed.command}".`);
    } else if (parsed.command !== undefined) {
      throw new UsageError(`Unexpected argument "${parsed.command}".`);
    }
    if (!command) throw new UsageError("No command given.");
    for (const name of parsed.flags.keys()) {
      if (!(name in GLOBAL_FLAGS) && !(name in command.flags)) throw new UsageError(`${command.name} takes no --${name}.`);
    }
    if (parsed.flags.has("help")) {
      process.stdout.write(`${help(command)}\n`);
      return 0;
    }
    const usage = `usage: edgepeer ${command.name} ${command.usage}`;
    const ctx = createContext(new Flags(parsed.flags, usage));
    if (command.streams) collectGarbageWhileStreaming();
    return (await command.run(ctx)) ?? 0;
  } catch (err) {
    return report(err, command);
  }
}

function anyCommandFlag(name: string): FlagKind | undefined {
  for (const c of COMMANDS) if (c.flags[name]) return c.flags[name];
  return undefined;
}

function report(err: unknown, command: Command | undefined): number {
  if (err instanceof UsageError) {
    const usage = err.usage ?? (command ? `usage: edgepeer ${command.name} ${command.usage}` : "run `edgepeer --help` for the commands.");
    process.stderr.write(`error: ${err.message}\n${usage}\n`);
    return 2;
  }
  if (process.env.EDGEPEER_DEBUG) console.error(err);
  const message = err instanceof PeerError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${oneLine(message)}\n`);
  return 1;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();
