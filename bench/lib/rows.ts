import { median, round } from "./stats";
import type { Row, Target, Unit } from "./types";

/** Builds a row from raw runs: medians, ratio to the floor (or to the limit), pass/miss. */
export function row(spec: {
  workload: string;
  case: string;
  unit: Unit;
  runs: number[];
  floor?: { case: string; runs: number[] };
  target?: Target;
  note?: string;
}): Row {
  const value = median(spec.runs);
  const floorValue = spec.floor ? median(spec.floor.runs) : undefined;
  const limit = spec.target?.kind === "max" ? spec.target.value : undefined;
  // Paired: each run's figure over the floor measured right beside it, then the median — the
  // machine's load drifts between runs, and a pair shares the same moment.
  const paired =
    spec.floor && spec.floor.runs.length === spec.runs.length ? median(spec.runs.map((r, i) => r / spec.floor!.runs[i]!)) : undefined;
  const ratio = floorValue !== undefined ? (paired ?? value / floorValue) : limit !== undefined ? value / limit : 1;
  const status = judge(spec.target, value, floorValue, ratio);
  return {
    workload: spec.workload,
    case: spec.case,
    unit: spec.unit,
    value: round(value, 3),
    runs: spec.runs.map((r) => round(r, 3)),
    ...(spec.floor &&
      floorValue !== undefined && {
        floor: { case: spec.floor.case, value: round(floorValue, 3), runs: spec.floor.runs.map((r) => round(r, 3)) },
      }),
    ratio: round(ratio, 3),
    ...(floorValue !== undefined && { ratioOfMedians: round(value / floorValue, 3) }),
    ...(spec.target && { target: spec.target }),
    status,
    ...(spec.note && { note: spec.note }),
  };
}

function judge(target: Target | undefined, value: number, floor: number | undefined, ratio: number): Row["status"] {
  if (!target) return "info";
  switch (target.kind) {
    case "ratio-min":
      return ratio >= target.value ? "pass" : "miss";
    case "ratio-max":
      return ratio <= target.value ? "pass" : "miss";
    case "max":
      return value <= target.value ? "pass" : "miss";
    case "overhead-max":
      return floor !== undefined && value - floor <= target.value ? "pass" : "miss";
  }
}

/** The target as the report shows it. */
export function describeTarget(target: Target | undefined, unit: Unit): string {
  if (!target) return "—";
  switch (target.kind) {
    case "ratio-min":
      return `≥ ${target.value}`;
    case "ratio-max":
      return `≤ ${target.value}×`;
    case "max":
      return `≤ ${target.value} ${unit}`;
    case "overhead-max":
      return `overhead ≤ ${target.value} ${unit}`;
  }
}
