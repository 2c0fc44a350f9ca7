// The model side of a training step: which batch keys reach model.forward, and HF's label
// smoother (used instead of the model's own loss when label_smoothing_factor > 0).

import { Tensor, type NestedArray } from "../tensor/tensor.js";
import type { Module } from "../nn/module.js";
import { crossEntropy } from "../ops/loss.js";
import { headKind } from "../models/modeling_utils.js";
import { causalLMLoss } from "../models/heads.js";
import type { Batch } from "./trainer_data.js";

export interface TrainerModel extends Module {
  forward(inputs: Record<string, unknown>): { loss?: Tensor; logits?: Tensor; [k: string]: unknown };
}

const MODEL_INPUT_KEYS = new Set([
  "inputIds", "attentionMask", "tokenTypeIds", "positionIds", "inputsEmbeds", "labels", "startPositions", "endPositions", "keepLogits",
  // encoder-decoders (a seq2seq collator gives decoder inputs made from the labels, as HF's does)
  "decoderInputIds", "decoderAttentionMask",
]);

/** The keys of a batch that models accept; labels dropped when the loss is computed outside (label smoothing). */
export function modelInputs(inputs: Batch, dropLabels: boolean): Record<string, unknown> {
  const x: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) if (MODEL_INPUT_KEYS.has(k)) x[k] = v;
  if (dropLabels) delete x.labels;
  return x;
}

/** Whether the model (under a PEFT wrapper, if any) is a causal LM: HF shifts its labels for the label smoother. */
export function isCausalLM(model: Module): boolean {
  const w = model as unknown as { getBaseModel?: () => unknown };
  const base = (typeof w.getBaseModel === "function" ? w.getBaseModel() : model) as { architectureName?: unknown };
  return typeof base.architectureName === "string" && headKind(base.architectureName) === "causal-lm";
}

/**
 * HF's LabelSmoother: (1 − ε)·NLL + ε·mean over classes of −log p, averaged over the labels that are
 * not −100; for a causal LM position t predicts label t + 1 (the model's own shifted loss, smoothed).
 */
export function smoothedLoss(model: Module, logits: Tensor, labels: unknown, eps: number): Tensor {
  if (logits.ndim === 3 && isCausalLM(model)) return causalLMLoss(logits, labels as Tensor | NestedArray, eps);
  const y = labels instanceof Tensor ? Array.from(labels.f32(), Math.round) : ((labels as unknown[]).flat(Infinity) as number[]);
  const C = logits.shape[logits.ndim - 1];
  return crossEntropy(logits.reshape([-1, C]), y, { labelSmoothing: eps });
}
