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

// ------------------------------------------------------------------ locations and the compiled workers
import "../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The package root (the folder with package.json above this file, whether it runs from bench/ or dist/bench/). */
export const repoRoot: string = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
  return d;
})();
/** The bench/ source folder (Python helpers and fixtures are read from here, never from dist/). */
export const benchSrc = join(repoRoot, "bench");

let newestSource: number | null = null;
function newestSourceMtime(): number {
  if (newestSource !== null) return newestSource;
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ["src", "bench"]) if (existsSync(join(repoRoot, d))) walk(join(repoRoot, d));
  newestSource = newest;
  return newest;
}

/**
 * The compiled twin (dist/bench/x.js) of a bench source file when it exists and is newer than every
 * source file, else null. Our benchmark workers run compiled when they can, as the package runs for its
 * users (`npm run build`): through tsx the loader alone adds ~40 MB to a worker's peak RSS.
 */
export function compiledTwin(tsFile: string): string | null {
  const js = join(repoRoot, "dist", relative(repoRoot, tsFile)).replace(/\.ts$/, ".js");
  if (!existsSync(js)) return null;
  return statSync(js).mtimeMs >= newestSourceMtime() ? js : null;
}

/** A header fragment saying how our workers run. */
export function workerMode(tsFile: string): string {
  if (!tsFile.endsWith(".ts")) return "ours: compiled";
  return compiledTwin(tsFile) ? "ours: compiled dist/" : "ours: sources through tsx (dist/ missing or older than the sources: `npm run build` for the compiled, lighter path)";
}

/**
 * A worker's entry point: when the module at `moduleUrl` is the script run as `<file> --worker
 * '<json>'`, runs `work` on the parsed spec, prints its result as one JSON line and exits 0 (1 with
 * the error on stderr when it throws).
 */
export function runAsWorker<S>(moduleUrl: string, work: (spec: S) => Promise<unknown>): void {
  if (!(process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href && process.argv[2] === "--worker")) return;
  work(JSON.parse(process.argv[3]) as S).then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
