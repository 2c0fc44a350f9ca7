// What an attribution explains: one scalar of the model's output per example — a class of a
// sequence classifier (the predicted one by default), a label at one token of a token classifier,
// or a token of a causal LM's next-token distribution at one position (by default the last, i.e.
// the token that would be generated next) — as a logit, a probability or a log-probability.
import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";
import type { ModelOutput } from "../models/modeling_utils.js";

export type AttributionTarget =
  | { kind: "sequence-classification"; label?: number }
  | { kind: "token-classification"; token: number; label?: number }
  | { kind: "causal-lm"; tokenId?: number; position?: number };

/** Which scalar of the chosen logits row: the logit itself (default), its softmax probability, or its log-probability. */
export type TargetOutput = "logit" | "probability" | "log-probability";

/** A target with every default filled in (label / token id chosen). */
export interface ResolvedTarget {
  kind: AttributionTarget["kind"];
  /** The position whose logits are read (0 for sequence classification). */
  position: number;
  /** The class or token id explained. */
  index: number;
  output: TargetOutput;
}

/** The logits row [S, C] a target reads from a forward over S copies of a T-token example. */
function logitsRow(out: ModelOutput, kind: AttributionTarget["kind"], position: number, T: number): Tensor {
  const logits = out.logits;
  if (!logits) throw new ConfigError(`explain: the model returned no logits (a ${kind} target needs a model with a head)`);
  if (kind === "sequence-classification") {
    if (logits.ndim !== 2) throw new ShapeError(`explain: a sequence-classification target needs logits [batch, labels], got [${logits.shape}]; pick the target that fits the model's head`);
    return logits;
  }
  if (logits.ndim !== 3 || logits.shape[1] !== T) throw new ShapeError(`explain: a ${kind} target needs logits [batch, ${T}, classes], got [${logits.shape}]`);
  return logits.select(1, position);
}

/** Resolves defaults from a forward at the input (the predicted label / the greedy next token). */
export function resolveTarget(target: AttributionTarget, out: ModelOutput, T: number, output: TargetOutput = "logit"): ResolvedTarget {
  let position = 0;
  if (target.kind === "token-classification") position = target.token;
  else if (target.kind === "causal-lm") position = target.position ?? T - 1;
  if (!Number.isInteger(position) || position < 0 || position >= T) throw new ShapeError(`explain: target position ${position} is outside the ${T} tokens`);
  const row = logitsRow(out, target.kind, position, T);
  const C = row.shape[1];
  const chosen = target.kind === "causal-lm" ? target.tokenId : target.label;
  const index = chosen ?? argmax(row.select(0, 0).f32());
  if (!Number.isInteger(index) || index < 0 || index >= C) {
    throw new ShapeError(`explain: target ${target.kind === "causal-lm" ? "token id" : "label"} ${index} is outside the model's ${C} ${target.kind === "causal-lm" ? "vocabulary entries" : "labels"}`);
  }
  return { kind: target.kind, position, index, output };
}

/** The explained scalar for each of the S rows of a forward: [S]. */
export function targetScores(out: ModelOutput, t: ResolvedTarget, T: number): Tensor {
  const row = logitsRow(out, t.kind, t.position, T);
  const v = t.output === "logit" ? row : t.output === "probability" ? ops.softmax(row, -1) : ops.logSoftmax(row, -1);
  return v.select(1, t.index);
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
