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

/** A flag with the name of its value and a line of help (both shown by `--help`). */
export interface FlagSpec {
  kind: FlagKind;
  /** The value's name in the help, e.g. `PATH`. */
  value?: string;
  help?: string;
}

/** Typed access to a command's flags, as given on the command line (global flags included). */
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
