import { row } from "./rows";
import type { Row, Skipped } from "./types";

const SETTLE_MS = 250;

/**
 * Named cases of one workload, measured in turn on every run. A case that throws is not run
 * again and becomes a "not measured" line with its reason, so one broken path does not hide
 * the figures of the others.
 */
export class Cases {
  private readonly runs = new Map<string, number[]>();
  private readonly failures = new Map<string, string>();

  constructor(
    private readonly workload: string,
    private readonly expectedRuns: number,
  ) {}

  /**
   * Runs `measure` (which returns the figure) unless this case already failed. A short,
   * untimed pause first: workerd may close a kept-alive connection just after a big upload's
   * answer, and a request sent at that instant on the same connection is reset.
   */
  async run(name: string, measure: () => Promise<number>): Promise<void> {
    if (this.failures.has(name)) return;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    try {
      const value = await measure();
      this.runs.set(name, [...(this.runs.get(name) ?? []), value]);
    } catch (err) {
      this.failures.set(name, err instanceof Error ? err.message.split("\n")[0]! : String(err));
    }
  }

  /** The last figure of a case, for progress lines. */
  last(name: string): string {
    const value = this.runs.get(name)?.at(-1);
    return this.failures.has(name) ? "failed" : value === undefined ? "-" : value.toFixed(1);
  }

  /** Every run of a complete case, or undefined. */
  of(name: string): number[] | undefined {
    const runs = this.runs.get(name);
    return runs && runs.length === this.expectedRuns ? runs : undefined;
  }

  /** A row when its case (and its floor's) ran every time; else nothing (see `skipped`). */
  row(spec: Omit<Parameters<typeof row>[0], "runs" | "floor" | "workload"> & { of: string; floor?: { case: string; of: string } }): Row[] {
    const runs = this.of(spec.of);
    const floorRuns = spec.floor ? this.of(spec.floor.of) : undefined;
    if (!runs || (spec.floor && !floorRuns)) return [];
    const { of: _of, floor, ...rest } = spec;
    return [row({ ...rest, workload: this.workload, runs, ...(floor && floorRuns && { floor: { case: floor.case, runs: floorRuns } }) })];
  }

  skipped(): Skipped[] {
    return [...this.failures].map(([name, reason]) => ({ workload: this.workload, reason: `${name}: ${reason}` }));
  }
}
