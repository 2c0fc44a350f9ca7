// Multi-task sampling: several task datasets, batches drawn one task at a time.
// Task probabilities p_i ∝ n_i^(1/T): T = 1 is proportional to size, T → ∞ uniform
// (the temperature sampling of multilingual/T5-style mixtures). Seeded, so a run is reproducible.

import { ConfigError } from "../../tensor/errors.js";
import { Rng } from "../../tensor/random.js";
import type { Dataset, Row } from "../datasets.js";

export interface TaskSpec<R extends Row = Row> {
  name: string;
  dataset: Dataset<R>;
}

export interface MultiTaskBatch<R extends Row = Row> {
  taskId: number;
  task: string;
  rows: R[];
  indices: number[];
}

export interface MultiTaskOptions {
  batchSize: number;
  /** "proportional" (T = 1), "uniform", or a temperature T ≥ 1 (default 1). */
  sampling?: "proportional" | "uniform" | number;
  seed?: number;
  /** Batches per epoch (default: total rows / batchSize, rounded up). */
  numBatches?: number;
}

export function taskProbabilities(sizes: number[], sampling: MultiTaskOptions["sampling"] = "proportional"): number[] {
  if (sizes.some((n) => !(n > 0))) throw new ConfigError(`multitask: every task needs at least one row (sizes ${sizes.join(", ")})`);
  const T = sampling === "proportional" ? 1 : sampling === "uniform" ? Infinity : sampling;
  if (typeof T !== "number" || !(T > 0)) throw new ConfigError(`multitask: sampling must be proportional, uniform or a temperature > 0, got ${sampling}`);
  const w = sizes.map((n) => (T === Infinity ? 1 : Math.pow(n, 1 / T)));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
}

/**
 * Yields batches, each from a single task (with its task id). Within a task, rows are visited
 * in a seeded shuffled order, reshuffled when exhausted.
 */
export class MultiTaskSampler<R extends Row = Row> implements Iterable<MultiTaskBatch<R>> {
  readonly probabilities: number[];
  constructor(readonly tasks: TaskSpec<R>[], readonly opts: MultiTaskOptions) {
    if (tasks.length === 0) throw new ConfigError("MultiTaskSampler: no tasks");
    if (!(opts.batchSize >= 1)) throw new ConfigError(`MultiTaskSampler: batchSize must be >= 1, got ${opts.batchSize}`);
    this.probabilities = taskProbabilities(tasks.map((t) => t.dataset.length), opts.sampling);
  }
  get numBatches(): number {
    return this.opts.numBatches ?? Math.ceil(this.tasks.reduce((a, t) => a + t.dataset.length, 0) / this.opts.batchSize);
  }
  *[Symbol.iterator](): Iterator<MultiTaskBatch<R>> {
    const rng = new Rng(this.opts.seed ?? 0);
    const orders = this.tasks.map((t) => rng.permutation(t.dataset.length));
    const pos = this.tasks.map(() => 0);
    const cum: number[] = [];
    this.probabilities.reduce((a, p, i) => (cum[i] = a + p), 0);
    for (let b = 0; b < this.numBatches; b++) {
      const u = rng.random();
      let k = cum.findIndex((c) => u < c);
      if (k < 0) k = this.tasks.length - 1;
      const ds = this.tasks[k].dataset;
      const indices: number[] = [];
      while (indices.length < this.opts.batchSize) {
        if (pos[k] >= orders[k].length) {
          orders[k] = rng.permutation(ds.length);
          pos[k] = 0;
        }
        indices.push(orders[k][pos[k]++]);
      }
      yield { taskId: k, task: this.tasks[k].name, rows: indices.map((i) => ds.get(i)), indices };
    }
  }
}
