/** Shapes of the bench's results (bench/results/*.json) and of a workload. */

export type Unit = "MB/s" | "req/s" | "ms" | "MiB" | "s" | "calls";

/** A limit a figure must meet: on the ratio to the floor, or on the figure itself. */
export type Target =
  | { kind: "ratio-min"; value: number } // edgepeer / floor ≥ value (throughput)
  | { kind: "ratio-max"; value: number } // edgepeer / floor ≤ value (latency)
  | { kind: "max"; value: number } // figure ≤ value (RSS, start time)
  | { kind: "overhead-max"; value: number }; // figure − floor ≤ value (latency, ms)

/** One measured line of a workload's table. */
export interface Row {
  workload: string;
  /** What exactly was measured, e.g. "PUT 256 MiB with X-Content-SHA256". */
  case: string;
  unit: Unit;
  /** Median of `runs`. */
  value: number;
  runs: number[];
  /** The bare platform doing the same work in the same run, when there is one. */
  floor?: { case: string; value: number; runs: number[] };
  /**
   * edgepeer / floor: the median of each run's ratio to the floor measured beside it. For rows
   * without a floor, the figure over its limit (so 0.5 = half the budget). Always > 0.
   */
  ratio: number;
  /** Median edgepeer figure / median floor figure, for comparison with `ratio`. */
  ratioOfMedians?: number;
  target?: Target;
  /** "pass" / "miss" against `target`; "info" when there is none. */
  status: "pass" | "miss" | "info";
  note?: string;
}

/** A workload that could not be measured in this run, and why. */
export interface Skipped {
  workload: string;
  reason: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  wrangler: string;
  miniflare: string;
  workerd: string;
}

/** Which code was measured: the commit, how many source files differed from it, the bundle. */
export interface Source {
  commit: string;
  uncommittedFiles: number;
  bundle: string;
}

export interface Results {
  date: string;
  source: Source;
  /** 1-minute load average before and after the run: other work on the machine skews figures. */
  load: { before: number; after: number };
  mode: "full" | "quick";
  runs: number;
  machine: Machine;
  /** Sizes used, in bytes. */
  sizes: Record<string, number>;
  rows: Row[];
  skipped: Skipped[];
  durationSeconds: number;
}

/** What every workload gets. */
export interface BenchContext {
  quick: boolean;
  /** Runs per figure (medians). */
  runs: number;
  /** Scratch directory for this bench run: test files, Miniflare data. */
  dir: string;
  sizes: { upload: number; transfer: number; rss: number };
  /** Seconds per autocannon measurement. */
  loadSeconds: number;
  /** Sequential requests per latency measurement. */
  latencyRequests: number;
  log(line: string): void;
}

export type Workload = (ctx: BenchContext) => Promise<{ rows: Row[]; skipped?: Skipped[] }>;
