// The sum of the per-example losses of a batch, Σ_i L_i, from one batched forward: what ghost
// clipping back-propagates, so that each layer's output gradient row of example i is ∂L_i/∂y_i
// (the batch-mean loss would scale example i by its share of the batch's tokens). L_i is the loss
// the model itself computes for example i alone (docs/DESIGN.md "DP-SGD: ghost clipping"):
// causal LM: the mean over its shifted, counted tokens; token classification: the mean over its
// counted tokens; sequence classification: its cross-entropy (single-label) or squared error
// (regression, one output); label smoothing as HF's LabelSmoother.

import { Tensor, type NestedArray } from "../../tensor/tensor.js";
import { ConfigError, ShapeError } from "../../tensor/errors.js";
import * as ops from "../../ops/index.js";
import type { Module } from "../../nn/module.js";
import { shiftedLabels } from "../../models/heads.js";
import { isCausalLM, modelInputs, type TrainerModel } from "../trainer_loss.js";
import type { Batch } from "../trainer_data.js";

export interface ExampleLosses {
  /** Σ_i L_i (a scalar with its graph). */
  sum: Tensor;
  /** L_i per example. */
  losses: number[];
}

function labelsTensor(labels: unknown): Tensor {
  return labels instanceof Tensor ? labels : Tensor.from(labels as NestedArray);
}

function problemType(model: Module, y: Tensor): string {
  const cfg = (model as unknown as { config?: { problemType?: string | null; numLabels?: number } }).config ?? {};
  if (cfg.problemType) return cfg.problemType;
  if (cfg.numLabels === 1) return "regression";
  const d = y.f32();
  return y.ndim === 1 && d.every((v) => Number.isInteger(v)) ? "single_label_classification" : "multi_label_classification";
}

/** Σ_i L_i and the L_i of a batch (labels in batch.labels), from the model's logits. */
export function exampleLossSum(model: Module, batch: Batch, labelSmoothing: number): ExampleLosses {
  if (batch.labels === undefined) throw new ConfigError(`dp_clipping "ghost": the batch has no labels; ghost clipping computes the per-example losses from the model's logits and the labels`);
  const out = (model as TrainerModel).forward(modelInputs(batch, true));
  const logits = out.logits;
  if (!(logits instanceof Tensor)) throw new ConfigError(`dp_clipping "ghost": the model returned no logits; use dp_clipping "flat"`);
  const B = logits.shape[0];
  const y = labelsTensor(batch.labels);
  let rows: Tensor;
  const weights = new Float32Array(logits.size / logits.shape[logits.ndim - 1]);
  if (logits.ndim === 3) {
    const [, T, V] = logits.shape;
    const lab = isCausalLM(model) ? shiftedLabels(y, B, T, `logits [${logits.shape}]`) : y.i32();
    if (lab.length !== B * T) throw new ShapeError(`dp_clipping "ghost": ${lab.length} labels for logits [${logits.shape}]`);
    rows = ops.crossEntropy(logits.reshape([B * T, V]), lab, { reduction: "none", labelSmoothing });
    for (let b = 0; b < B; b++) {
      let n = 0;
      for (let t = 0; t < T; t++) if (lab[b * T + t] !== -100) n++;
      for (let t = 0; t < T; t++) weights[b * T + t] = n > 0 && lab[b * T + t] !== -100 ? 1 / n : 0;
    }
  } else if (logits.ndim === 2) {
    const pt = problemType(model, y);
    const C = logits.shape[1];
    if (pt === "regression" && C === 1) rows = ops.square(ops.sub(logits.reshape([B]), y.to("f32").reshape([B])));
    else if (pt === "single_label_classification") rows = ops.crossEntropy(logits, y.i32(), { reduction: "none", labelSmoothing });
    else throw new ConfigError(`dp_clipping "ghost": per-example losses for problem type ${pt} with ${C} outputs are not implemented; use dp_clipping "flat"`);
    weights.fill(1);
  } else {
    throw new ConfigError(`dp_clipping "ghost": logits [${logits.shape}] are neither [B, classes] nor [B, T, classes]; use dp_clipping "flat"`);
  }
  const sum = ops.sum(ops.mul(rows, new Tensor(weights, rows.shape)));
  const rd = rows.f32(), per = rows.size / B;
  const losses: number[] = [];
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let j = b * per; j < (b + 1) * per; j++) s += rd[j] * weights[j];
    losses.push(s);
  }
  return { sum, losses };
}
