/** A usage mistake: exit code 2 and the command's usage line. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** How a flag takes its value: `string` needs one, `boolean` takes none, `optional` may take one. */
export type FlagKind = "string" | "boolean" | "optional";

export interface ParsedArgs {
  command: string | undefined;
  flags: Map<string, string | true>;
}

/**
 * Parses `--name value`, `--name=value` and bare `--flag`, wherever they stand; the first
 * word that is not a flag or a flag's value is the command. Unknown flags are a UsageError.
 */
export function parseArgs(argv: string[], kinds: (name: string) => FlagKind | undefined): ParsedArgs {
  const flags = new Map<string, string | true>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "-h") {
      flags.set("help", true);
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      if (command !== undefined) throw new UsageError(`Unexpected argument "${arg}".`);
      command = arg;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = kinds(name);
    if (!kind) throw new UsageError(`Unknown option --${name}.`);
    if (eq !== -1) {
      if (kind === "boolean") throw new UsageError(`--${name} takes no value.`);
      flags.set(name, arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (kind === "boolean" || (kind === "optional" && (next === undefined || next.startsWith("--")))) {
      flags.set(name, true);
    } else {
      if (next === undefined) throw new UsageError(`--${name} needs a value.`);
      flags.set(name, next);
      i++;
    }
  }
  return { command, flags };
}

/** Typed access to a command's flags. */
export class Flags {
  constructor(
    private readonly values: Map<string, string | true>,
    private readonly usage: string,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined || v === true ? undefined : v;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === "") throw new UsageError(`--${name} is required.`, this.usage);
    return v;
  }

  bool(name: string): boolean {
    return this.values.get(name) === true || this.values.get(name) === "true";
  }

  int(name: string, min = 0): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}.`, this.usage);
    return n;
  }

  /** A size such as `64MiB`, `16M`, `1048576`. */
  bytes(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)\s*(k|m|g|kb|mb|gb|kib|mib|gib|b)?$/i.exec(v.trim());
    if (!m) throw new UsageError(`--${name} must be a size like 64MiB.`, this.usage);
    const unit = (m[2] ?? "b").toLowerCase()[0] as string;
    const scale = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1;
    return Math.round(Number(m[1]) * scale);
  }
}
