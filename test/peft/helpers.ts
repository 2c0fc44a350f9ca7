// Shared helpers for the PEFT tests: golden paths, tolerant comparisons, a minimal AdamW
// (torch.optim.AdamW, one param group, decoupled weight decay) and base-model loading.
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForSequenceClassification, AutoModelForCausalLM } from "../../src/models/auto.js";
import type { PreTrainedModel } from "../../src/models/modeling_utils.js";

export const GOLDEN = join(import.meta.dirname, "..", "..", "..", "shared", "golden");

export function gjson(rel: string): any {
  return JSON.parse(readFileSync(join(GOLDEN, rel), "utf8"));
}
export function gtensors(rel: string): Map<string, Tensor> {
  return loadSafetensors(join(GOLDEN, rel));
}
/** Moves every trainable tensor off its initial value (+0.05·sin i), so that a tensor dropped on save shows in the logits. */
export function perturbTrainable(model: { namedParameters(): Iterable<[string, Tensor]> }): void {
  noGrad(() => {
    let i = 0;
    for (const [, p] of model.namedParameters()) {
      if (!p.requiresGrad) continue;
      const d = p.data as Float32Array;
      for (let j = 0; j < d.length; j++) d[j] += 0.05 * Math.sin(++i);
    }
  });
}

export function tmp(prefix = "peft-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function flat(x: Tensor | number | unknown[]): Float64Array {
  if (x instanceof Tensor) return Float64Array.from(x.f32());
  if (typeof x === "number") return Float64Array.of(x);
  return Float64Array.from((x as unknown[]).flat(Infinity) as number[]);
}

/** |a − e| ≤ abs + rel·|e| elementwise, with the worst offender in the message. */
export function assertClose(actual: Tensor | number | unknown[], expected: Tensor | number | unknown[], what: string, tol = { abs: 1e-5, rel: 1e-4 }): void {
  const a = flat(actual), e = flat(expected);
  assert.equal(a.length, e.length, `${what}: ${a.length} values vs ${e.length} expected`);
  let worst = -1, wi = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - e[i]) - (tol.abs + tol.rel * Math.abs(e[i]));
    if (!(err <= 0) && (wi < 0 || err > worst)) {
      worst = err;
      wi = i;
    }
  }
  if (wi >= 0) assert.fail(`${what}: element ${wi} is ${a[wi]}, expected ${e[wi]} (abs ${tol.abs}, rel ${tol.rel})`);
}
export const GRAD_TOL = { abs: 1e-5, rel: 1e-3 };
export const MERGE_TOL = { abs: 2e-5, rel: 1e-4 };

/** The fixed BERT batch of golden/bert-*. */
export function bertBatch(g: any): { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][]; labels: number[] } {
  return { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, tokenTypeIds: g.inputs.token_type_ids, labels: g.inputs.labels };
}

export async function loadBert(): Promise<PreTrainedModel> {
  return AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), { numLabels: 2 });
}
export async function loadCausal(name: "gpt2-tiny-random" | "llama-tiny-random"): Promise<PreTrainedModel> {
  return AutoModelForCausalLM.fromPretrained(join(GOLDEN, name));
}

/** One torch.optim.AdamW step (first step, single group) on the given params, in place. */
export function adamwFirstStep(params: Tensor[], opts: { lr: number; weightDecay: number; betas: [number, number]; eps: number }): void {
  const [b1, b2] = opts.betas;
  for (const p of params) {
    const g = p.grad!.f32();
    const d = p.data as Float32Array;
    for (let i = 0; i < d.length; i++) {
      d[i] = Math.fround(d[i] * (1 - opts.lr * opts.weightDecay));
      const m = (1 - b1) * g[i];
      const v = (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v) / Math.sqrt(1 - b2) + opts.eps;
      d[i] = Math.fround(d[i] - (opts.lr / (1 - b1)) * (m / denom));
    }
  }
}

export function sortedKeys(m: Map<string, unknown> | Record<string, unknown>): string[] {
  return (m instanceof Map ? [...m.keys()] : Object.keys(m)).sort();
}

/** torch.optim.AdamW (single group, decoupled weight decay), enough to replay golden runs. */
export class MiniAdamW {
  private m = new Map<Tensor, Float64Array>();
  private v = new Map<Tensor, Float64Array>();
  private t = 0;
  constructor(private readonly params: Tensor[], private readonly o: { weightDecay: number; betas: [number, number]; eps: number }) {}
  step(lr: number): void {
    this.t++;
    const [b1, b2] = this.o.betas;
    for (const p of this.params) {
      if (!p.grad) continue;
      const g = p.grad.f32(), d = p.data as Float32Array;
      let m = this.m.get(p), v = this.v.get(p);
      if (!m || !v) {
        this.m.set(p, (m = new Float64Array(d.length)));
        this.v.set(p, (v = new Float64Array(d.length)));
      }
      const bc1 = 1 - b1 ** this.t, bc2 = 1 - b2 ** this.t;
      for (let i = 0; i < d.length; i++) {
        d[i] = Math.fround(d[i] * (1 - lr * this.o.weightDecay));
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        d[i] = Math.fround(d[i] - (lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + this.o.eps)));
      }
    }
  }
}

/** clip_grad_norm_: returns the total L2 norm before clipping and scales grads when it exceeds maxNorm. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let s = 0;
  for (const p of params) if (p.grad) for (const g of p.grad.f32()) s += g * g;
  const norm = Math.sqrt(s);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const p of params) if (p.grad) {
    const d = p.grad.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = Math.fround(d[i] * coef);
  }
  return norm;
}
