// What the attribution methods need from a model (a PreTrainedModel or a PeftModel): its input
// embedding table, its config, and a scope in which it runs in eval mode with its parameters
// frozen (gradients flow to the input embeddings only, no parameter .grad is touched).
import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { enableGrad } from "../tensor/autograd.js";
import type { Embedding } from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import type { ModelInputs, ModelOutput } from "../models/modeling_utils.js";

/** A model the explain methods accept: forward with inputsEmbeds, and an input embedding table. */
export interface ExplainableModel extends Module {
  forward(inputs: ModelInputs): ModelOutput;
  config: { padTokenId?: number | null; numLabels?: number };
}

/** One example: token ids [T] (no batch dim), and optionally its mask and token types. */
export interface ExampleInput {
  inputIds: number[];
  attentionMask?: number[];
  tokenTypeIds?: number[];
}

/** The token-embedding table of a model, or of the model a PeftModel wraps. */
export function inputEmbeddingsOf(model: ExplainableModel): Embedding {
  const m = model as unknown as { getInputEmbeddings?: () => Embedding; getBaseModel?: () => { getInputEmbeddings?: () => Embedding } };
  if (typeof m.getInputEmbeddings === "function") return m.getInputEmbeddings();
  const base = typeof m.getBaseModel === "function" ? m.getBaseModel() : null;
  if (base && typeof base.getInputEmbeddings === "function") return base.getInputEmbeddings();
  throw new ConfigError(`explain: ${model.constructor.name} has no input embeddings (getInputEmbeddings)`);
}

/** The embeddings [T, E] of one row of ids (no gradient). */
export function embedIds(model: ExplainableModel, ids: number[]): Tensor {
  const emb = inputEmbeddingsOf(model);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= emb.numEmbeddings) throw new ShapeError(`explain: token id ${id} is outside the vocabulary (size ${emb.numEmbeddings})`);
  }
  return gatherRows(emb.weight, ids, emb.embeddingDim);
}

function gatherRows(weight: Tensor, ids: number[], E: number): Tensor {
  const w = weight.f32(), out = new Float32Array(ids.length * E);
  ids.forEach((id, t) => out.set(w.subarray(id * E, (id + 1) * E), t * E));
  return new Tensor(out, [ids.length, E]);
}

/** Checks one example's fields have the same length and returns T. */
export function checkExample(x: ExampleInput): number {
  const T = x.inputIds.length;
  if (T === 0) throw new ShapeError("explain: inputIds is empty");
  for (const [k, v] of [["attentionMask", x.attentionMask], ["tokenTypeIds", x.tokenTypeIds]] as const) {
    if (v !== undefined && v.length !== T) throw new ShapeError(`explain: ${k} has length ${v.length}, inputIds ${T}`);
  }
  return T;
}

/** The forward inputs of S copies of one example, with the given embeddings [S, T, E]. */
export function stepInputs(x: ExampleInput, embeds: Tensor): ModelInputs {
  const S = embeds.shape[0];
  const rep = (row: number[]) => Array.from({ length: S }, () => row);
  const inputs: ModelInputs = { inputsEmbeds: embeds };
  if (x.attentionMask) inputs.attentionMask = rep(x.attentionMask);
  if (x.tokenTypeIds) inputs.tokenTypeIds = rep(x.tokenTypeIds);
  return inputs;
}

/**
 * Runs fn with the model in eval mode and every parameter frozen, gradients enabled; restores the
 * training mode and requiresGrad flags afterwards.
 */
export function explainScope<T>(model: ExplainableModel, fn: () => T): T {
  const wasTraining = model.training;
  const params = model.parameters().filter((p) => p.requiresGrad);
  model.eval();
  for (const p of params) p.requiresGrad = false;
  try {
    return enableGrad(fn);
  } finally {
    for (const p of params) p.requiresGrad = true;
    if (wasTraining) model.train();
  }
}
