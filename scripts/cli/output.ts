/** Human sizes: 1.0 KiB, 64.0 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Lines of aligned columns. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

/**
 * A progress bar on stderr when it is a terminal (and plain silence when piped): bytes,
 * percentage, speed. Redraws at most ten times a second.
 */
export class Progress {
  private readonly started = performance.now();
  private last = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled = Boolean(process.stderr.isTTY),
  ) {}

  /** `note` is shown after the label, e.g. `12/300 files`. */
  update(done: number, note?: string): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const width = 24;
    const ratio = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(ratio * width);
    const seconds = (now - this.started) / 1000;
    const speed = seconds > 0 ? `${formatBytes(done / seconds)}/s` : "";
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const columns = process.stderr.columns || 100; // 0 in a terminal that reports no size
    const line = `${this.label}${note ? ` ${note}` : ""} ${bar} ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(done)} / ${formatBytes(this.total)} ${speed}`;
    process.stderr.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar so the next line starts clean. */
  done(): void {
    if (this.drawn) process.stderr.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** Seconds since `start` and the rate it implies, for a summary line. */
export function rate(bytes: number, startMs: number): string {
  const seconds = Math.max(0.001, (performance.now() - startMs) / 1000);
  return `${seconds.toFixed(2)} s, ${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;
}
