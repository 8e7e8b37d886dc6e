import { Command as Commander, CommanderError, Option } from "commander";
import { PeerError } from "../../src/client/index";
import { type FlagKind, type FlagSpec, Flags, UsageError } from "./args";
import type { Command } from "./command";
import { shares, token } from "./commands/access";
import * as files from "./commands/files";
import * as folders from "./commands/folders";
import * as info from "./commands/info";
import * as memory from "./commands/memory";
import { replicate } from "./commands/replicate";
import { check, sync } from "./commands/sync";
import * as tasks from "./commands/tasks";
import { transfer } from "./commands/transfer";
import { createContext } from "./context";
import { collectGarbageWhileStreaming } from "./gc";

/** Flags every command takes, before or after its name: which peer, which token, how to print. */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  peer: { kind: "string", value: "NAME", help: "a peer of the network file" },
  url: { kind: "string", value: "URL", help: "a peer by its URL" },
  host: { kind: "string", value: "HOST", help: "a peer by host (with --port), as client.py" },
  port: { kind: "string", value: "PORT", help: "a peer by port (with --host)" },
  network: { kind: "string", value: "FILE", help: "the network file (default .peers/network.json)" },
  token: { kind: "string", value: "TOKEN", help: "the token (default EDGEPEER_TOKEN, else the network file's)" },
  json: { kind: "boolean", help: "print the API's answers as JSON" },
  "multipart-threshold": { kind: "string", value: "SIZE", help: "upload in parts above this size (default 64MiB)" },
  "part-size": { kind: "string", value: "SIZE", help: "size of each part (default 16MiB)" },
};

export const COMMANDS: Command[] = [
  files.putFile,
  files.getFile,
  files.listFiles,
  files.deleteFile,
  folders.mkdirCommand,
  folders.cp,
  folders.mv,
  folders.rmCommand,
  folders.getFolder,
  files.share,
  shares,
  token,
  files.findFile,
  transfer,
  check,
  sync,
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
  replicate,
];

const GLOBAL_USAGE = "[--peer NAME | --url URL | --host H --port P] [--token T] [--network FILE] [--json] <command> [options]";

const GLOBAL_HELP = `
Which peer: --peer NAME (from the network file, default .peers/network.json), --url URL, or
--host H --port P (as client.py). Default: the first peer of the network file, else
http://127.0.0.1:8787. Token: --token, else EDGEPEER_TOKEN, else the network file's.
Exit codes: 0 success, 1 the operation failed, 2 a usage error.
edgepeer <command> --help shows a command's options.`;

const spec = (flag: FlagKind | FlagSpec): FlagSpec => (typeof flag === "string" ? { kind: flag } : flag);

/** A commander option for one of our flags; `--no-x` stays a flag of its own (commander would negate `x`). */
function toOption(name: string, flag: FlagSpec): Option {
  const value = flag.value ?? "VALUE";
  const syntax = flag.kind === "string" ? ` <${value}>` : flag.kind === "optional" ? ` [${value}]` : "";
  return new Option(`--${name}${syntax}`, flag.help ?? "");
}

/** Flags whose value may be "" (the empty string, every name); `--as ''` is a mistake. */
const MAY_BE_EMPTY = new Set(["value", "prefix", "program", "args"]);

/** The flags given on the command line to `cmd` (not defaults), by our flag name. */
function givenFlags(cmd: Commander, into: Map<string, string | true>): void {
  for (const option of cmd.options) {
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) !== "cli") continue;
    const value = cmd.getOptionValue(key) as unknown;
    const name = (option.long ?? "").slice(2);
    // `--no-cache` is stored by commander as cache=false; our flag is "no-cache", set.
    into.set(name, option.negate ? true : typeof value === "string" ? value : true);
  }
}

const usageOf = (path: string, command: Command) => `usage: edgepeer ${path} ${command.usage}`.trimEnd();

/**
 * Builds the commander program: `only` makes one command the whole program (the transfer
 * script); otherwise every command of COMMANDS is a sub-command.
 */
function program(only: Command | undefined, state: { path: string; command?: Command; code: number }): Commander {
  const root = new Commander(only ? only.name : "edgepeer");
  root
    .exitOverride()
    .enablePositionalOptions()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: () => {}, outputError: () => {} })
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });

  const attach = (cmd: Commander, command: Command | undefined, path: string) => {
    for (const [name, flag] of Object.entries(command?.flags ?? {})) cmd.addOption(toOption(name, spec(flag)));
    const own = new Set(Object.keys(command?.flags ?? {}));
    // Global flags also parse after the command name (`put-file … --json`); a command's own flag of the same name wins.
    for (const [name, flag] of Object.entries(GLOBAL_FLAGS)) {
      if (own.has(name)) continue;
      const option = toOption(name, flag);
      cmd.addOption(cmd === root ? option : option.hideHelp());
    }
    if (!command) return;
    cmd.usage(command.usage || "[options]");
    if (command.subcommands) {
      cmd.enablePositionalOptions();
      cmd.hook("preSubcommand", (_, sub) => {
        state.path = `${path} ${sub.name()}`;
        state.command = command.subcommands?.find((c) => c.name === sub.name());
      });
      for (const sub of command.subcommands) attach(child(cmd, sub), sub, `${path} ${sub.name}`);
      return;
    }
    cmd.action(async (_options, leaf: Commander) => {
      const given = new Map<string, string | true>();
      for (const c of lineage(leaf)) givenFlags(c, given);
      for (const [name, value] of given) {
        if (value === "" && !MAY_BE_EMPTY.has(name)) throw new UsageError(`--${name} needs a value; it was empty.`);
      }
      const ctx = createContext(new Flags(given, usageOf(path, command)));
      if (command.streams) collectGarbageWhileStreaming();
      state.code = (await command.run?.(ctx)) ?? 0;
    });
  };

  const child = (parent: Commander, command: Command): Commander => {
    const cmd = parent.command(command.name).description(command.summary).allowExcessArguments(false);
    for (const alias of command.aliases ?? []) cmd.alias(alias);
    return cmd;
  };

  if (only) {
    root.description(only.summary);
    state.command = only;
    state.path = only.name;
    attach(root, only, only.name);
    return root;
  }
  root.usage(GLOBAL_USAGE).addHelpText("after", GLOBAL_HELP);
  attach(root, undefined, "");
  root.hook("preSubcommand", (_, sub) => {
    state.path = sub.name();
    state.command = COMMANDS.find((c) => c.name === sub.name());
  });
  for (const command of COMMANDS) attach(child(root, command), command, command.name);
  return root;
}

/** The command and its parents, outermost first, so a flag after the command name wins. */
function lineage(cmd: Commander): Commander[] {
  const chain: Commander[] = [];
  for (let c: Commander | null = cmd; c; c = c.parent) chain.unshift(c);
  return chain;
}

/**
 * Runs the CLI on `argv` (without node and script) and resolves to the exit code:
 * 0 success, 1 the operation failed, 2 a usage error. Errors are one line on stderr.
 */
export async function main(argv: string[], only?: Command): Promise<number> {
  const state: { path: string; command?: Command; code: number } = { path: "", code: 0 };
  try {
    if (!only && argv.length === 0) throw new UsageError("No command given.");
    await program(only, state).parseAsync(argv, { from: "user" });
    return state.code;
  } catch (err) {
    return report(fromCommander(err, state), state);
  }
}

/** Commander's parse errors as our usage errors, in our words; help shown is exit 0. */
function fromCommander(err: unknown, state: { path: string; command?: Command }): unknown {
  if (!(err instanceof CommanderError)) return err;
  if (err.exitCode === 0) return null;
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? "";
  switch (err.code) {
    case "commander.help":
      // Help on stderr: a command that groups sub-commands was given none.
      return new UsageError(state.command ? `${state.path} needs a sub-command.` : "No command given.");
    case "commander.unknownCommand":
      return new UsageError(`Unknown command "${quoted}".`);
    case "commander.unknownOption":
      return new UsageError(state.command ? `${state.path} takes no ${quoted}.` : `Unknown option ${quoted}.`);
    case "commander.optionMissingArgument":
      return new UsageError(`${quoted.split(" ")[0]} needs a value.`);
    default:
      return new UsageError(err.message.replace(/^error: /, "").split("\n")[0] ?? err.message);
  }
}

function report(err: unknown, state: { path: string; command?: Command }): number {
  if (err === null) return 0;
  // A name the client refused before sending (`..`, `a//b`) is a usage error too.
  if (err instanceof UsageError || (err instanceof PeerError && err.code === "invalid_argument")) {
    const usage =
      (err instanceof UsageError ? err.usage : undefined) ??
      (state.command ? usageOf(state.path, state.command) : "run `edgepeer --help` for the commands.");
    process.stderr.write(`error: ${err.message}\n${usage}\n`);
    return 2;
  }
  if (process.env.EDGEPEER_DEBUG) console.error(err);
  const message = err instanceof PeerError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${oneLine(message)}\n`);
  return 1;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();
