// Types and helpers shared by the benchmark suites (kept apart from main.ts so suites can import
// them without an import cycle).

export interface BenchRow {
  suite: string;
  case: string;
  ours: number;
  /** The reference figure (PyTorch, or a library such as OpenBLAS) measured in the same run; null if unavailable. */
  reference: number | null;
  unit: string;
  /** > 1 means we are better (reference/ours for times, ours/reference for throughputs); null without a reference. */
  ratio: number | null;
}

export interface BenchOptions {
  json: boolean;
  /** Fewer repetitions and cases (smoke runs, CI). */
  quick: boolean;
  threads?: number;
  /** The full command line (suites read their own switches from it, e.g. ops: --no-ts). */
  args: string[];
}

export interface Suite {
  name: string;
  description: string;
  run(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<void>;
}

/** Builds a row from times in ms (lower is better): ratio = reference / ours. */
export function timeRow(suite: string, name: string, oursMs: number, refMs: number | null): BenchRow {
  return { suite, case: name, ours: oursMs, reference: refMs, unit: "ms", ratio: refMs === null || oursMs <= 0 ? null : refMs / oursMs };
}

/** Builds a row from throughputs (higher is better): ratio = ours / reference. */
export function rateRow(suite: string, name: string, ours: number, ref: number | null, unit: string): BenchRow {
  return { suite, case: name, ours, reference: ref, unit, ratio: ref === null || ref <= 0 ? null : ours / ref };
}

/** Median wall time of `reps` calls after `warmup` calls, in ms. */
export function timeMs(fn: () => void, reps: number, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}
