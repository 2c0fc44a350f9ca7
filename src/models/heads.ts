// Task losses and pooling shared by the model families, with HF's semantics.
import { Tensor, NestedArray } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { enableGrad, isGradEnabled, noGrad } from "../tensor/autograd.js";
import * as ops from "../ops/index.js";
import { Linear } from "../nn/layers.js";
import type { BaseConfig, ProblemType } from "../io/hf_config.js";
import type { ModelInputs, ModelOutput } from "./modeling_utils.js";
import { toIntBatch, type IntBatch } from "./inputs.js";

function labelsTensor(labels: Tensor | NestedArray): Tensor {
  return labels instanceof Tensor ? labels : Tensor.from(labels);
}

function isIntegral(t: Tensor): boolean {
  if (t.dtype === "i32" || t.dtype === "i64" || t.dtype === "u8") return true;
  const d = t.f32();
  for (let i = 0; i < d.length; i++) if (!Number.isInteger(d[i])) return false;
  return true;
}

/**
 * HF's sequence-classification loss: problem_type from the config, else inferred
 * (num_labels 1 → regression; integer class ids [B] → single-label; otherwise multi-label).
 * The inferred type is stored in the config as HF does.
 */
export function sequenceClassificationLoss(logits: Tensor, labels: Tensor | NestedArray, config: BaseConfig): Tensor {
  const y = labelsTensor(labels);
  const B = logits.shape[0], C = logits.shape[1];
  let pt: ProblemType | null = config.problemType;
  if (pt === null) {
    if (config.numLabels === 1) pt = "regression";
    else if (y.ndim === 1 && isIntegral(y)) pt = "single_label_classification";
    else pt = "multi_label_classification";
    config.problemType = pt;
  }
  if (pt === "regression") {
    const yf = y.to("f32");
    if (C === 1) return ops.mseLoss(logits.reshape([B]), yf.reshape([B]));
    return ops.mseLoss(logits, yf);
  }
  if (pt === "single_label_classification") {
    return ops.crossEntropy(logits.reshape([-1, C]), y.i32());
  }
  return bceWithLogits(logits, y.to("f32"));
}

/** mean(max(x,0) − x·y + log(1 + exp(−|x|))), the stable form of BCEWithLogitsLoss. */
export function bceWithLogits(x: Tensor, y: Tensor): Tensor {
  if (x.size !== y.size) throw new ShapeError(`bceWithLogits: logits [${x.shape}] and labels [${y.shape}] differ in size`);
  const yy = y.reshape(x.shape);
  const soft = ops.log(ops.add(ops.exp(ops.neg(ops.abs(x))), 1));
  return ops.mean(ops.add(ops.sub(ops.relu(x), ops.mul(x, yy)), soft));
}

/** Token-level CE over [B,T,C] logits and [B,T] labels (−100 ignored). */
export function tokenClassificationLoss(logits: Tensor, labels: Tensor | NestedArray): Tensor {
  const C = logits.shape[logits.ndim - 1];
  const y = labelsTensor(labels).i32();
  if (y.length * C !== logits.size) throw new ShapeError(`labels (${y.length} values) do not match logits [${logits.shape}]`);
  return ops.crossEntropy(logits.reshape([-1, C]), y);
}

/**
 * labels[:, 1:] placed at positions [:, :-1], the last position −100: every position takes part with
 * the last one ignored, the same loss and gradient as logits[:, :-1] (an ignored row adds 0 and gets
 * a zero gradient) without copying the logits.
 */
export function shiftedLabels(labels: Tensor | NestedArray, B: number, T: number, what: string): Int32Array {
  const y = labelsTensor(labels).i32();
  if (y.length !== B * T) throw new ShapeError(`labels (${y.length} values) do not match ${what} (expected [${B}, ${T}])`);
  const shifted = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) shifted[b * T + t] = y[b * T + t + 1];
  return shifted;
}

/** Causal-LM loss: logits[:, :-1] against labels[:, 1:], −100 ignored, mean over counted tokens (optionally label-smoothed). */
export function causalLMLoss(logits: Tensor, labels: Tensor | NestedArray, labelSmoothing = 0): Tensor {
  const [B, T, V] = logits.shape;
  return ops.crossEntropy(logits.reshape([B * T, V]), shiftedLabels(labels, B, T, `logits [${logits.shape}]`), { labelSmoothing });
}

/** HF QA loss: positions clamped to [0, T], CE ignoring T, mean of start and end losses. */
export function questionAnsweringLoss(start: Tensor, end: Tensor, startPositions: Tensor | number[], endPositions: Tensor | number[]): Tensor {
  const T = start.shape[1];
  const clamp = (p: Tensor | number[]) => {
    const a = p instanceof Tensor ? p.i32() : Int32Array.from(p);
    return a.map((x) => Math.min(Math.max(x, 0), T));
  };
  const ls = ops.crossEntropy(start, clamp(startPositions), { ignoreIndex: T });
  const le = ops.crossEntropy(end, clamp(endPositions), { ignoreIndex: T });
  return ops.scale(ops.add(ls, le), 0.5);
}

/**
 * Index of the token each row is pooled at (HF v5 sequence classification for decoders):
 * the rightmost token that is not pad_token_id (works for left and right padding);
 * the last position when there is no pad token or only embeddings were given.
 */
export function lastNonPadIndex(ids: IntBatch | null, T: number, B: number, padTokenId: number | null): number[] {
  if (!ids || padTokenId === null) {
    if (padTokenId === null && B > 1) throw new ShapeError("Cannot handle batch sizes > 1 if no padding token is defined (config.pad_token_id)");
    return new Array(B).fill(T - 1);
  }
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let idx = 0;
    for (let t = 0; t < T; t++) if (ids.data[b * T + t] !== padTokenId) idx = t;
    out.push(idx);
  }
  return out;
}

/** Rows of hidden [B,T,C] at one position per batch row → [B,C]. */
export function gatherPositions(hidden: Tensor, idx: number[]): Tensor {
  return ops.stack(idx.map((t, b) => hidden.select(0, b).select(0, t)), 0);
}

/** Passes the base model's hidden states and KV cache through to a head's output. */
function withBaseExtras(out: ModelOutput, base: ModelOutput): ModelOutput {
  if (base.hiddenStates) out.hiddenStates = base.hiddenStates;
  if (base.attentions) out.attentions = base.attentions;
  if (base.pastKeyValues) out.pastKeyValues = base.pastKeyValues;
  return out;
}

/**
 * An encoder head's output: `extra` (logits) with the base model's outputs passed on. HF's head
 * outputs carry only logits/hidden_states; lastHiddenState and poolerOutput are kept as a convenience.
 * firstTokenOnly: the run's lastHiddenState holds position 0 only, so it is not passed on.
 */
export function encoderHeadOutput(base: ModelOutput, extra: ModelOutput, firstTokenOnly = false): ModelOutput {
  const out: ModelOutput = firstTokenOnly && !base.hiddenStates && !base.attentions ? { ...extra } : { ...extra, lastHiddenState: base.lastHiddenState };
  if (base.poolerOutput) out.poolerOutput = base.poolerOutput;
  return withBaseExtras(out, base);
}

/**
 * Causal-LM head: logits at every position, shifted cross-entropy when labels are given.
 *
 * With labels and a plain bias-free Linear head (not wrapped by an adapter or a hook), the loss goes
 * straight from the hidden states and the head weight (ops.linearCrossEntropy, gradients prepared in
 * forward) and the [B, T, vocab] logits are computed only when `logits` is first read, under the
 * forward's grad mode, from the same hidden states and the head's weights at that time.
 * `keepLogits` computes them in forward instead (for callers that read them anyway).
 */
export function causalLMOutput(
  base: ModelOutput, lmHead: { forward(x: Tensor): Tensor }, labels: Tensor | NestedArray | undefined, keepLogits = false, logitsToKeep = 0,
): ModelOutput {
  let h = base.lastHiddenState!;
  if (logitsToKeep !== 0) {
    if (!Number.isInteger(logitsToKeep) || logitsToKeep < 0) throw new ConfigError(`logitsToKeep must be a non-negative integer, got ${logitsToKeep}`);
    if (labels !== undefined) throw new ConfigError("logitsToKeep is for forward passes without labels (the loss needs every position's logits)");
    const T = h.shape[1];
    if (logitsToKeep < T) h = h.slice(1, T - logitsToKeep);
  }
  const parallelLoss = (lmHead as { vocabParallelLoss?: (h: Tensor, labels: Int32Array) => Tensor }).vocabParallelLoss;
  if (labels !== undefined && typeof parallelLoss === "function") {
    // a vocab-parallel head (tensor parallelism): the loss from each rank's vocab slice; the logits,
    // when read, are gathered (a collective: every rank must read them)
    const [B, T] = h.shape;
    const out = withBaseExtras({}, base);
    defineLazyLogits(out, () => lmHead.forward(h));
    out.loss = parallelLoss.call(lmHead, h, shiftedLabels(labels, B, T, `the input [${B}, ${T}]`));
    if (keepLogits) void out.logits;
    return out;
  }
  const plain = lmHead instanceof Linear && lmHead.forward === Linear.prototype.forward && !lmHead.bias;
  if (labels === undefined || !plain) {
    const logits = lmHead.forward(h);
    const out = withBaseExtras({ logits }, base);
    if (labels !== undefined) out.loss = causalLMLoss(logits, labels);
    return out;
  }
  const [B, T] = h.shape;
  const y = shiftedLabels(labels, B, T, `the input [${B}, ${T}]`);
  const weight = (lmHead as Linear).weight;
  if (keepLogits) {
    const logits = lmHead.forward(h);
    return withBaseExtras({ logits, loss: ops.linearCrossEntropy(h, weight, y, { logits }) }, base);
  }
  const out = withBaseExtras({}, base);
  defineLazyLogits(out, () => lmHead.forward(h));
  out.loss = ops.linearCrossEntropy(h, weight, y);
  return out;
}

/** out.logits as a property computed on first read (under the grad mode of this call). */
export function defineLazyLogits(out: ModelOutput, compute: () => Tensor): void {
  const withGrad = isGradEnabled();
  let value: Tensor | undefined;
  Object.defineProperty(out, "logits", {
    enumerable: true,
    configurable: true,
    get: () => (value ??= withGrad ? enableGrad(compute) : noGrad(compute)),
    set: (v: Tensor) => {
      value = v;
    },
  });
}

/**
 * Decoder sequence classification: the score head at each row's last non-pad token (HF 5.x). `run`
 * runs the base model with those positions as ModelInputs.queryPositions, so its last layer computes
 * only them (unless hidden states are asked for).
 */
export function lastTokenClassificationOutput(
  run: (queryPositions: number[] | undefined) => ModelOutput, inputs: ModelInputs, score: { forward(x: Tensor): Tensor }, config: BaseConfig,
): ModelOutput {
  const ids = inputs.inputIds !== undefined ? toIntBatch(inputs.inputIds, "inputIds") : null;
  const embeds = inputs.inputsEmbeds instanceof Tensor && inputs.inputsEmbeds.ndim === 3 ? inputs.inputsEmbeds : null;
  const bt = ids ? ids.shape : embeds ? [embeds.shape[0], embeds.shape[1]] : null;
  const want = bt ? lastNonPadIndex(ids, bt[1], bt[0], config.padTokenId) : undefined;
  const base = run(want);
  const h = base.lastHiddenState!;
  const [B, T] = h.shape;
  let idx: number[];
  if (!want) idx = lastNonPadIndex(null, T, B, config.padTokenId); // the length is known from the output only
  else if (T === bt![1]) idx = want; // a full run (hidden states were asked for)
  else idx = new Array<number>(B).fill(0); // a query-rows run returns just those rows ([B, 1, H])
  const logits = score.forward(gatherPositions(h, idx));
  const out = withBaseExtras({ logits }, base);
  if (inputs.labels !== undefined) out.loss = sequenceClassificationLoss(logits, inputs.labels, config);
  return out;
}
