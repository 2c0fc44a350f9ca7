// --loss: the training objective. "ce" is the model's own loss (cross-entropy for classification
// and LM heads); "target_alignment" is mean((softmax(logits) − onehot(labels))²); a mixture is
// written as weights, e.g. "ce=0.5,target_alignment=0.5" ("mixed" is that 50/50 mixture).

import { CliError } from "./errors.js";
import type { LabelInfo, Task } from "../data/tasks/task.js";
import type { Module } from "../nn/module.js";
import * as ops from "../ops/index.js";
import { Tensor } from "../tensor/tensor.js";
import { targetAlignmentFromLogits } from "../distill/losses.js";
import type { ModelInputs, ModelOutput } from "../models/modeling_utils.js";

export const LOSS_TERMS = ["ce", "target_alignment"] as const;
export type LossWeights = Record<(typeof LOSS_TERMS)[number], number>;

export function parseLoss(spec: string): LossWeights {
  const s = spec.trim().toLowerCase().replace(/-/g, "_");
  if (s === "ce" || s === "cross_entropy") return { ce: 1, target_alignment: 0 };
  if (s === "target_alignment" || s === "ta") return { ce: 0, target_alignment: 1 };
  if (s === "mixed") return { ce: 0.5, target_alignment: 0.5 };
  const w: LossWeights = { ce: 0, target_alignment: 0 };
  for (const part of s.split(",")) {
    const m = /^\s*([a-z_]+)\s*[=:]\s*([0-9.eE+-]+)\s*$/.exec(part);
    if (!m) throw new CliError(`--loss: cannot read '${part.trim()}'; use ce, target_alignment, mixed or weights like ce=0.5,target_alignment=0.5`);
    const name = m[1] === "cross_entropy" ? "ce" : m[1] === "ta" ? "target_alignment" : m[1];
    if (!(LOSS_TERMS as readonly string[]).includes(name)) throw new CliError(`--loss: unknown term '${m[1]}' (known: ${LOSS_TERMS.join(", ")})`);
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v < 0) throw new CliError(`--loss: weight of ${name} must be a number >= 0, got '${m[2]}'`);
    w[name as keyof LossWeights] = v;
  }
  if (w.ce === 0 && w.target_alignment === 0) throw new CliError("--loss: all weights are 0");
  return w;
}

type Forward = Module & { forward(i: ModelInputs): ModelOutput };

/**
 * A compute-loss function for the Trainer, or null when the model's own loss ("ce") is the
 * objective. How target alignment reads logits and labels is the task's `alignment`: rows
 * (one label per example), tokens (flattened, −100 skipped) or next-token (position t against label t+1).
 */
export function lossFunction(spec: string, task: Task, labels: LabelInfo = {}): ((model: Module, inputs: Record<string, unknown>) => Tensor) | null {
  const w = parseLoss(spec);
  if (w.target_alignment === 0) return w.ce === 1 ? null : (model, inputs) => ops.affine((model as Forward).forward(inputs).loss!, w.ce);
  if (!task.alignment) throw new CliError(`--loss target_alignment is defined for classification and LM tasks, not ${task.name}`);
  // softmax against one-hot class labels: neither a regression target nor multi-hot rows are that
  if (labels.problemType === "regression" || labels.problemType === "multi_label_classification") {
    throw new CliError(`--loss target_alignment needs single-label classes; problem_type ${labels.problemType} trains with the model's own loss (--loss ce)`);
  }
  const alignment = task.alignment;
  return (model, inputs) => {
    const out = (model as Forward).forward({ ...inputs, keepLogits: true });
    const logits = out.logits!;
    let rows = logits;
    let labels = inputs.labels as unknown;
    if (alignment === "next-token") {
      // predict token t+1 from position t, as the model's own loss does
      const [B, T, V] = logits.shape;
      rows = logits.slice(1, 0, T - 1).contiguous().reshape([B * (T - 1), V]);
      const lab = (labels instanceof Tensor ? (labels.toArray() as number[][]) : (labels as number[][]));
      labels = lab.flatMap((r) => r.slice(1));
    } else if (alignment === "tokens" || logits.ndim === 3) {
      const [B, T, C] = logits.shape;
      rows = logits.reshape([B * T, C]);
      labels = (labels instanceof Tensor ? (labels.toArray() as number[][]) : (labels as number[][])).flat();
    }
    const ta = targetAlignmentFromLogits(rows, labels as number[]);
    const taW = ops.affine(ta, w.target_alignment);
    return w.ce > 0 ? ops.add(ops.affine(out.loss!, w.ce), taW) : taW;
  };
}
