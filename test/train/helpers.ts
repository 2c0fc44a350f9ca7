// Small models and data for the Trainer tests: an MLP regressor (blocks in a ModuleList named
// "layers", with dropout so that RNG state matters) trained on a synthetic linear target.
import { Module, ModuleList } from "../../src/nn/module.js";
import { Linear, Dropout } from "../../src/nn/layers.js";
import { Rng } from "../../src/tensor/random.js";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";

export class Block extends Module {
  declare fc: Linear;
  declare drop: Dropout;
  constructor(inF: number, outF: number, rng: Rng, p: number) {
    super();
    this.registerModule("fc", new Linear(inF, outF, { rng }));
    this.registerModule("drop", new Dropout(p));
  }
  forward(x: Tensor): Tensor {
    return this.drop.forward(ops.tanh(this.fc.forward(x)));
  }
}

export class TinyRegressor extends Module {
  declare layers: ModuleList<Block>;
  declare head: Linear;
  /** `depth`: the hidden h × h blocks after the first (default 1). */
  constructor(seed = 1, opts: { dropout?: number; hidden?: number; inF?: number; depth?: number } = {}) {
    super();
    const rng = new Rng(seed);
    const h = opts.hidden ?? 8, inF = opts.inF ?? 4, p = opts.dropout ?? 0;
    const hidden = Array.from({ length: opts.depth ?? 1 }, () => new Block(h, h, rng, p));
    this.registerModule("layers", new ModuleList([new Block(inF, h, rng, p), ...hidden]));
    this.registerModule("head", new Linear(h, 1, { rng }));
  }
  forward(inputs: { inputsEmbeds?: unknown; labels?: unknown }): { loss?: Tensor; logits: Tensor } {
    let x = inputs.inputsEmbeds instanceof Tensor ? inputs.inputsEmbeds : Tensor.from(inputs.inputsEmbeds as number[][]);
    for (const b of this.layers) x = b.forward(x);
    const logits = this.head.forward(x);
    if (inputs.labels === undefined) return { logits };
    const y = Tensor.from((inputs.labels as number[]).map((v) => [v]));
    return { loss: ops.mseLoss(logits, y), logits };
  }
}

/** n examples {inputsEmbeds: number[4], labels: number} of y = w·x + noise. */
export function regressionData(n: number, seed = 7): { inputsEmbeds: number[]; labels: number }[] {
  const rng = new Rng(seed);
  const w = [0.5, -1, 2, 0.25];
  return Array.from({ length: n }, () => {
    const x = w.map(() => rng.normal());
    const y = x.reduce((s, v, i) => s + v * w[i], 0) + 0.1 * rng.normal();
    return { inputsEmbeds: x, labels: y };
  });
}

/** Collator for the regressor (stack features, labels as a list). */
export function regressionCollator(features: Record<string, unknown>[]): Record<string, unknown> {
  return { inputsEmbeds: features.map((f) => f.inputsEmbeds), labels: features.map((f) => f.labels) };
}

export function paramsOf(m: Module): Map<string, Float32Array> {
  return new Map(m.namedParameters().map(([n, p]) => [n, Float32Array.from(p.f32())]));
}

export function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

/** For the kill-and-resume children: prints "step N" after each step (the parent kills on it), then sleeps slowMs. */
export function stepEcho(slowMs: number): { onStepEnd: (e: { state: { globalStep: number } }) => void } {
  return {
    onStepEnd: (e) => {
      process.stdout.write(`step ${e.state.globalStep}\n`);
      if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
    },
  };
}
