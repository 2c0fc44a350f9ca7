// Prompt learning at run time: the per-adapter prompt modules (`prompt_encoder.<adapter>`) and the
// forward that feeds them to the model. Prompt tuning / p-tuning prepend virtual-token embeddings
// (attention mask 1, token type 0, label -100 for causal LM); prefix tuning hands every layer
// extra keys/values: the [V, L·2·H·D] prefix is viewed as [V, L·2, H, D] and layer l takes rows
// 2l (keys) and 2l+1 (values), each as [B, H, V, D] — peft's view/permute/split order.

import { emitWarning } from "../../platform/env.js";
import { Module } from "../../nn/module.js";
import { Embedding, Linear } from "../../nn/layers.js";
import { Tensor } from "../../tensor/tensor.js";
import { noGrad } from "../../tensor/autograd.js";
import { globalRng } from "../../tensor/random.js";
import { ConfigError, PeftError, ShapeError } from "../../tensor/errors.js";
import { cat, relu, tanh } from "../../ops/index.js";
import { IdsLike, KeyValue, ModelInputs, ModelOutput, PreTrainedModel } from "../../models/modeling_utils.js";
import { intTensor, toIntBatch } from "../../models/inputs.js";
import { isEncoderDecoder } from "../../models/seq2seq.js";
import { callForward } from "../containers.js";
import { checkSeq2SeqPrefix, wordEmbeddingScale } from "./seq2seq.js";
import { prefixBlock, prefixBlocks } from "./prefix_layout.js";
import type { StateEntry } from "../save_load.js";
import { PrefixTuningConfig, PromptEncoderConfig, PromptLearningConfig, PromptTuningConfig } from "./config.js";

export { PromptLearningConfig };

export interface PromptInitOptions {
  /** Tokenizer for prompt_tuning_init="TEXT" (its ids, special tokens included, as peft uses them). */
  tokenizer?: { encode(text: string): number[] | { ids: number[] } };
  /** Token ids for TEXT init, instead of a tokenizer. */
  promptInitTokenIds?: number[];
}

/** A prompt module: `embedding` [V·S, dim] plus an optional reparameterisation. */
export abstract class PromptModule extends Module {
  declare embedding: Embedding;
  /** The virtual-token values used by forward: [V·S, out] (the embedding itself, or its encoding). */
  abstract prompts(inferenceMode: boolean): Tensor;
  /** True when prompts() is not the embedding itself (saved values are then the encoded ones). */
  abstract get reparameterised(): boolean;
}

/** Prompt tuning: the virtual tokens are free embedding rows. */
export class PromptEmbedding extends PromptModule {
  constructor(total: number, dim: number) {
    super();
    this.registerModule("embedding", new Embedding(total, dim));
  }
  prompts(): Tensor {
    return this.embedding.weight;
  }
  get reparameterised(): boolean {
    return false;
  }
}

/** Prefix tuning: rows of [L·2·token_dim] (×2 with encoder prefixes), optionally through Linear → tanh → Linear (`transform.0/2`). */
export class PrefixEncoder extends PromptModule {
  declare transform: Module | undefined;
  constructor(cfg: PrefixTuningConfig, total: number) {
    super();
    const td = cfg.tokenDim!, L = prefixBlocks(cfg) / 2;
    const hidden = cfg.encoderHiddenSize ?? td;
    if (cfg.prefixProjection && !cfg.inferenceMode) {
      this.registerModule("embedding", new Embedding(total, td));
      const t = new Sequential();
      t.registerModule("0", new Linear(td, hidden));
      t.registerModule("2", new Linear(hidden, L * 2 * td));
      this.registerModule("transform", t);
    } else {
      this.registerModule("embedding", new Embedding(total, L * 2 * td));
    }
  }
  prompts(inferenceMode: boolean): Tensor {
    if (!this.transform || inferenceMode) return this.embedding.weight;
    const t = this.transform as Sequential;
    const h = tanh((t.get("0") as Linear).forward(this.embedding.weight));
    return (t.get("2") as Linear).forward(h);
  }
  get reparameterised(): boolean {
    return this.transform !== undefined;
  }
}

/** P-tuning (MLP): embedding → Linear → ReLU → Linear → ReLU → Linear (`mlp_head.0/2/4`). */
export class PromptEncoder extends PromptModule {
  declare mlp_head: Module | undefined;
  constructor(cfg: PromptEncoderConfig, total: number) {
    super();
    const td = cfg.tokenDim!;
    const hidden = cfg.encoderHiddenSize ?? td;
    this.registerModule("embedding", new Embedding(total, td));
    if (!cfg.inferenceMode) {
      const m = new Sequential();
      m.registerModule("0", new Linear(td, hidden));
      m.registerModule("2", new Linear(hidden, hidden));
      m.registerModule("4", new Linear(hidden, td));
      this.registerModule("mlp_head", m);
    }
  }
  prompts(inferenceMode: boolean): Tensor {
    if (!this.mlp_head || inferenceMode) return this.embedding.weight;
    const m = this.mlp_head as Sequential;
    let h = relu((m.get("0") as Linear).forward(this.embedding.weight));
    h = relu((m.get("2") as Linear).forward(h));
    return (m.get("4") as Linear).forward(h);
  }
  get reparameterised(): boolean {
    return this.mlp_head !== undefined;
  }
}

/** Numbered children (torch.nn.Sequential names: activations occupy indices without parameters). */
class Sequential extends Module {
  get(i: string): Module {
    return this.getSubmodule(i);
  }
}

function modelConfigValue(model: PreTrainedModel, ...names: string[]): number | null {
  const cfg = model.config as unknown as Record<string, unknown>;
  for (const n of names) if (typeof cfg[n] === "number") return cfg[n] as number;
  return null;
}

/** Fills num_layers, token_dim, num_attention_heads, num_transformer_submodules from the model (peft's _prepare_prompt_learning_config). */
export function preparePromptLearningConfig(cfg: PromptLearningConfig, model: PreTrainedModel): PromptLearningConfig {
  const c = cfg.copy();
  const modelLayers = modelConfigValue(model, "numHiddenLayers", "num_hidden_layers", "n_layer");
  const modelDim = modelConfigValue(model, "hiddenSize", "hidden_size", "n_embd");
  // a prompt of another width or depth than the model's cannot be fed to it (PEFT fails later, in forward)
  if (c.numLayers !== null && c.numLayers !== undefined && modelLayers !== null && c.numLayers !== modelLayers) {
    throw new ConfigError(`${cfg.peftType}: num_layers ${c.numLayers} differs from the model's ${modelLayers} layers`);
  }
  if (c.tokenDim !== null && c.tokenDim !== undefined && modelDim !== null && c.tokenDim !== modelDim) {
    // prefix tuning on grouped-query attention saves the key/value width (hidden / heads × kv heads)
    const heads = modelConfigValue(model, "numAttentionHeads", "num_attention_heads", "n_head");
    const kv = modelConfigValue(model, "numKeyValueHeads", "num_key_value_heads");
    const kvDim = heads && kv ? (modelDim / heads) * kv : null;
    if (!(c instanceof PrefixTuningConfig && c.tokenDim === kvDim)) {
      throw new ConfigError(`${cfg.peftType}: token_dim ${c.tokenDim} differs from the model's hidden size ${modelDim}${kvDim !== null && kvDim !== modelDim ? ` (or its key/value width ${kvDim} for prefix tuning)` : ""}`);
    }
  }
  c.numLayers ??= modelLayers;
  c.tokenDim ??= modelDim;
  c.numAttentionHeads ??= modelConfigValue(model, "numAttentionHeads", "num_attention_heads", "n_head");
  c.numTransformerSubmodules ??= c.taskType === "SEQ_2_SEQ_LM" ? 2 : 1;
  const submodules = isEncoderDecoder(model) ? 2 : 1;
  if (c.numTransformerSubmodules !== submodules) {
    throw new ConfigError(`${cfg.peftType}: num_transformer_submodules=${c.numTransformerSubmodules} does not fit ${model.architectureName}, which ${submodules === 2 ? "is an encoder-decoder (2)" : "has one transformer stack (1)"}`);
  }
  if (c instanceof PrefixTuningConfig || c instanceof PromptEncoderConfig) c.encoderHiddenSize ??= c.tokenDim;
  if (c instanceof PrefixTuningConfig) {
    const kv = modelConfigValue(model, "numKeyValueHeads", "num_key_value_heads");
    if (kv !== null && c.numAttentionHeads && kv !== c.numAttentionHeads) {
      c.tokenDim = (c.tokenDim! / c.numAttentionHeads) * kv;
      c.numAttentionHeads = kv;
    }
  }
  if (c.numLayers === null || c.tokenDim === null || c.numAttentionHeads === null) {
    throw new ConfigError(`${cfg.peftType}: cannot read num_layers / token_dim / num_attention_heads from the model config; set them in the config`);
  }
  if (isEncoderDecoder(model)) checkSeq2SeqPrefix(c, model);
  return c;
}

function textInitIds(cfg: PromptTuningConfig, opts: PromptInitOptions): number[] {
  let ids = opts.promptInitTokenIds;
  if (!ids && opts.tokenizer) {
    const enc = opts.tokenizer.encode(cfg.promptTuningInitText!);
    ids = Array.isArray(enc) ? enc : enc.ids;
  }
  if (!ids || ids.length === 0) {
    throw new ConfigError(`PromptTuningConfig: prompt_tuning_init="TEXT" needs a tokenizer (or promptInitTokenIds) passed to getPeftModel to tokenize ${JSON.stringify(cfg.promptTuningInitText)}`);
  }
  return ids;
}

/** Builds the prompt module of a new adapter. */
export function createPromptModule(cfg: PromptLearningConfig, model: PreTrainedModel, opts: PromptInitOptions = {}): PromptModule {
  // PEFT's prefix encoder has V rows whatever num_transformer_submodules is; the others V·submodules
  if (cfg instanceof PrefixTuningConfig) return new PrefixEncoder(cfg, cfg.numVirtualTokens);
  const total = cfg.numVirtualTokens * (cfg.numTransformerSubmodules ?? 1);
  if (cfg instanceof PromptEncoderConfig) return new PromptEncoder(cfg, total);
  if (!(cfg instanceof PromptTuningConfig)) throw new ConfigError(`unsupported prompt-learning config ${cfg.peftType}`);
  const m = new PromptEmbedding(total, cfg.tokenDim!);
  const words = model.getInputEmbeddings().weight;
  const dim = cfg.tokenDim!;
  if (words.shape[1] !== dim) throw new ShapeError(`prompt tuning: token_dim ${dim} differs from the model's embedding size ${words.shape[1]}`);
  let rows: number[] | null = null;
  if (cfg.promptTuningInit === "TEXT" && !cfg.inferenceMode) {
    const ids = textInitIds(cfg, opts);
    const reps = Math.ceil(total / ids.length);
    rows = Array.from({ length: reps }, () => ids).flat().slice(0, total);
  } else if (cfg.promptTuningInit === "SAMPLE_VOCAB" && !cfg.inferenceMode) {
    rows = Array.from({ length: total }, () => globalRng.randint(words.shape[0]));
  }
  if (rows) {
    // PEFT copies word_embeddings(ids): BART's embedding module scales its rows
    const w = words.f32(), dst = m.embedding.weight.data as Float32Array, s = wordEmbeddingScale(model);
    rows.forEach((id, i) => {
      if (id < 0 || id >= words.shape[0]) throw new ShapeError(`prompt tuning init: token id ${id} is outside the vocabulary (${words.shape[0]})`);
      const row = w.subarray(id * dim, (id + 1) * dim);
      dst.set(s === 1 ? row : row.map((x) => Math.fround(x * s)), i * dim);
    });
  }
  return m;
}

function batchSize(inputs: ModelInputs): number {
  if (inputs.inputIds !== undefined) return toIntBatch(inputs.inputIds, "inputIds").shape[0];
  if (inputs.inputsEmbeds !== undefined) {
    const e = inputs.inputsEmbeds;
    return e instanceof Tensor ? e.shape[0] : (e as unknown[]).length;
  }
  throw new ShapeError("prompt learning forward: pass inputIds or inputsEmbeds");
}

/** [B,T] ints with `n` leading columns of `fill`. */
function prependCols(x: IdsLike, n: number, fill: number, what: string): Tensor {
  const b = toIntBatch(x, what);
  const [B, T] = b.shape;
  const out = new Int32Array(B * (n + T));
  for (let i = 0; i < B; i++) {
    out.fill(fill, i * (n + T), i * (n + T) + n);
    out.set(b.data.subarray(i * T, (i + 1) * T), i * (n + T) + n);
  }
  return intTensor({ data: out, shape: [B, n + T] });
}

/** Per-layer prefix keys/values [B, H, V, D] from the prefix rows [V, L·2·H·D] (decoder-only models). */
export function prefixKeyValues(rows: Tensor, B: number, cfg: PromptLearningConfig): KeyValue[] {
  const out: KeyValue[] = [];
  for (let l = 0; l < cfg.numLayers!; l++) out.push({ key: prefixBlock(rows, B, cfg, 2 * l), value: prefixBlock(rows, B, cfg, 2 * l + 1) });
  return out;
}

/** The forward of a model with the prompt-learning adapter `module` (config `cfg`); `wordEmbeddings` is the model's input embedding. */
export function promptForward(
  cfg: PromptLearningConfig, module: PromptModule, model: PreTrainedModel, wordEmbeddings: Module, inputs: ModelInputs,
): ModelOutput {
  if (inputs.pastKeyValues !== undefined || inputs.useCache) {
    throw new PeftError(`${cfg.peftType}: cached incremental decoding (pastKeyValues / useCache) is not supported with prompt-learning adapters; generate with useCache: false`);
  }
  const B = batchSize(inputs);
  const V = cfg.numVirtualTokens;
  const next: ModelInputs = { ...inputs };
  if (inputs.attentionMask !== undefined) next.attentionMask = prependCols(inputs.attentionMask, V, 1, "attentionMask");
  if (inputs.positionIds !== undefined) {
    emitWarning("Position ids are not supported for parameter efficient tuning. Ignoring position ids.");
    delete next.positionIds;
  }
  const rows = module.prompts(cfg.inferenceMode);
  if (cfg.peftType === "PREFIX_TUNING") {
    next.pastKeyValues = prefixKeyValues(rows, B, cfg);
    return model.forward(next);
  }
  if (inputs.tokenTypeIds !== undefined) next.tokenTypeIds = prependCols(inputs.tokenTypeIds, V, 0, "tokenTypeIds");
  if (cfg.taskType === "CAUSAL_LM" && inputs.labels !== undefined) {
    next.labels = prependCols(inputs.labels instanceof Tensor ? inputs.labels : (inputs.labels as number[][]), V, -100, "labels");
  }
  let embeds: Tensor;
  if (inputs.inputsEmbeds !== undefined) embeds = inputs.inputsEmbeds instanceof Tensor ? inputs.inputsEmbeds : Tensor.from(inputs.inputsEmbeds);
  else embeds = callForward<Tensor>(wordEmbeddings, intTensor(toIntBatch(inputs.inputIds!, "inputIds")));
  const prompts = rows.unsqueeze(0).expand([B, rows.shape[0], rows.shape[1]]);
  next.inputsEmbeds = cat([prompts.contiguous(), embeds], 1);
  delete next.inputIds;
  return model.forward(next);
}

/** The saved `prompt_embeddings` of an adapter (encoded values when trainable with an encoder). */
export function promptStateEntries(cfg: PromptLearningConfig, m: PromptModule | undefined, adapterName: string, forLoad = false): StateEntry[] {
  if (!m) throw new PeftError(`adapter '${adapterName}' has no prompt encoder`);
  if (forLoad && m.reparameterised && !cfg.inferenceMode) {
    throw new PeftError(`${cfg.peftType} adapter '${adapterName}': saved files hold the encoded prompts only, so they load for inference (isTrainable: false), not for further training of the encoder`);
  }
  const tensor = cfg.inferenceMode || !m.reparameterised ? m.embedding.weight : noGrad(() => m.prompts(false)).detach();
  return [{ memKey: `prompt_encoder.${adapterName}.embedding.weight`, savedKey: "prompt_embeddings", tensor }];
}
