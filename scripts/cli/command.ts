import type { FlagKind, FlagSpec } from "./args";
import type { Context } from "./context";

/**
 * One CLI command: its flags, its usage line and what it does. A command with `subcommands`
 * (`token create|list|revoke`) only groups them: it has no `run` of its own.
 */
export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** Flags after the command name, e.g. "--filename NAME [--save [PATH]]". */
  usage: string;
  flags: Record<string, FlagKind | FlagSpec>;
  /** Moves file bytes: run with the garbage collector kept busy (see gc.ts). */
  streams?: boolean;
  /** Resolves to the exit code (0 when omitted). */
  run?(ctx: Context): Promise<number | void>;
  subcommands?: Command[];
}
