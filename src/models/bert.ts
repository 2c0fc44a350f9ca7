// BERT and RoBERTa encoders (post-LN) with HF's module names; their task heads are in bert_heads.ts.
// RoBERTa is a config switch: the "roberta" prefix, position ids counted from padding_idx+1,
// its own classification and LM heads.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { Module, ModuleList } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear, forwardAct } from "../nn/layers.js";
import { activation, fusedActivation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack } from "../nn/layer_stack.js";
import * as ops from "../ops/index.js";
import { copyToParallel } from "../ops/parallel.js";
import type { ProcessGroup } from "../dist/process_group.js";
import type { BiasActOp } from "../ops/index.js";
import type { BertConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { checkPositions, intTensor, keyMaskOf, toIntBatch, tokenInputs, type IntBatch } from "./inputs.js";
import { constructionRng } from "./head_models.js";

export class BertEmbeddings extends Module {
  declare word_embeddings: Embedding;
  declare position_embeddings: Embedding;
  declare token_type_embeddings: Embedding | undefined;
  declare LayerNorm: LayerNorm;
  declare dropout: Dropout;
  constructor(readonly config: BertConfig) {
    super();
    const rng = constructionRng();
    if (config.positionEmbeddingType !== "absolute") {
      throw new ConfigError(`${config.source}: position_embedding_type '${config.positionEmbeddingType}' is not supported (supported: absolute)`);
    }
    this.registerModule("word_embeddings", new Embedding(config.vocabSize, config.hiddenSize, { rng }));
    this.registerModule("position_embeddings", new Embedding(config.maxPositionEmbeddings, config.hiddenSize, { rng }));
    if (config.typeVocabSize > 0) this.registerModule("token_type_embeddings", new Embedding(config.typeVocabSize, config.hiddenSize, { rng }));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.registerModule("dropout", new Dropout(config.hiddenDropoutProb));
  }

  /** Position ids: BERT counts from the past length; RoBERTa from padding_idx+1 skipping pad tokens. */
  positionIds(ids: IntBatch | null, B: number, T: number, P: number): IntBatch {
    const data = new Int32Array(B * T);
    if (this.config.modelType === "roberta") {
      const pad = this.config.padTokenId ?? 1;
      for (let b = 0; b < B; b++) {
        let count = 0;
        for (let t = 0; t < T; t++) {
          if (!ids) data[b * T + t] = pad + 1 + t;
          else if (ids.data[b * T + t] !== pad) data[b * T + t] = ++count + P + pad;
          else data[b * T + t] = pad;
        }
      }
    } else {
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) data[b * T + t] = P + t;
    }
    return { data, shape: [B, T] };
  }

  forward(ids: IntBatch | null, embeds: Tensor | null, tokenTypes: IntBatch | null, positions: IntBatch | null, P: number): Tensor {
    let x = embeds ?? this.word_embeddings.forward(intTensor(ids!));
    const [B, T] = [x.shape[0], x.shape[1]];
    const pos = positions ?? this.positionIds(ids, B, T, P);
    checkPositions(pos.data, this.config.maxPositionEmbeddings, "max_position_embeddings");
    if (this.token_type_embeddings) {
      const tt = tokenTypes ?? { data: new Int32Array(B * T), shape: [B, T] as [number, number] };
      x = ops.add(x, this.token_type_embeddings.forward(intTensor(tt)));
    }
    x = ops.add(x, this.position_embeddings.forward(intTensor(pos)));
    return this.dropout.forward(this.LayerNorm.forward(x));
  }
}

export class BertSelfAttention extends Module {
  declare query: Linear;
  declare key: Linear;
  declare value: Linear;
  declare dropout: Dropout;
  /** Heads computed here (this rank's share under tensor parallelism). */
  heads: number;
  readonly headDim: number;
  /** Set by parallelizeModel: the input enters the tensor-parallel region once for query, key and value. */
  tpGroup: ProcessGroup | null = null;
  constructor(config: BertConfig) {
    super();
    const rng = constructionRng();
    this.heads = config.numAttentionHeads;
    this.headDim = config.hiddenSize / config.numAttentionHeads;
    if (!Number.isInteger(this.headDim)) throw new ConfigError(`${config.source}: hidden_size ${config.hiddenSize} is not a multiple of num_attention_heads ${config.numAttentionHeads}`);
    const H = config.hiddenSize;
    this.registerModule("query", new Linear(H, H, { rng }));
    this.registerModule("key", new Linear(H, H, { rng }));
    this.registerModule("value", new Linear(H, H, { rng }));
    this.registerModule("dropout", new Dropout(config.attentionProbsDropoutProb));
  }
  /** firstOnly: queries for position 0 only (keys/values still from every position). */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, firstOnly = false): { out: Tensor; kv: KeyValue } {
    if (this.tpGroup) x = copyToParallel(x, this.tpGroup);
    const q = splitHeads(this.query.forward(firstOnly ? x.slice(1, 0, 1) : x), this.heads, this.headDim);
    const k = splitHeads(this.key.forward(x), this.heads, this.headDim);
    const v = splitHeads(this.value.forward(x), this.heads, this.headDim);
    const kv = withPast(past, k, v);
    const ctx = attention(q, kv.key, kv.value, {
      keyMask, causal: false, scale: 1 / Math.sqrt(this.headDim), dropoutP: this.dropout.p, training: this.training,
    });
    return { out: mergeHeads(ctx), kv };
  }
}

/** dense → dropout → LayerNorm(· + residual): BertSelfOutput and BertOutput. */
export class BertResidualOutput extends Module {
  declare dense: Linear;
  declare LayerNorm: LayerNorm;
  declare dropout: Dropout;
  constructor(config: BertConfig, inFeatures: number) {
    super();
    this.registerModule("dense", new Linear(inFeatures, config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.registerModule("dropout", new Dropout(config.hiddenDropoutProb));
  }
  forward(x: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(ops.add(this.dropout.forward(this.dense.forward(x)), residual));
  }
}

export class BertAttention extends Module {
  declare self: BertSelfAttention;
  declare output: BertResidualOutput;
  constructor(config: BertConfig) {
    super();
    this.registerModule("self", new BertSelfAttention(config));
    this.registerModule("output", new BertResidualOutput(config, config.hiddenSize));
  }
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, firstOnly = false): { out: Tensor; kv: KeyValue } {
    const s = this.self.forward(x, keyMask, past, firstOnly);
    return { out: this.output.forward(s.out, firstOnly ? x.slice(1, 0, 1) : x), kv: s.kv };
  }
}

export class BertIntermediate extends Module {
  declare dense: Linear;
  private readonly act: (x: Tensor) => Tensor;
  /** The activation as a fused bias kernel op (null: no fused kernel for it). */
  private readonly fusedAct: BiasActOp | null;
  /** Set by parallelizeModel: the input enters the tensor-parallel region (dense is column-parallel). */
  tpGroup: ProcessGroup | null = null;
  constructor(config: BertConfig) {
    super();
    this.registerModule("dense", new Linear(config.hiddenSize, config.intermediateSize, { rng: constructionRng() }));
    this.act = activation(config.hiddenAct);
    this.fusedAct = fusedActivation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    if (this.tpGroup) x = copyToParallel(x, this.tpGroup);
    // dense → act with the bias add and activation in one pass (through adapters wrapping dense too)
    if (this.fusedAct) return forwardAct(this.dense, x, this.fusedAct);
    return this.act(this.dense.forward(x));
  }
}

export class BertLayer extends Module {
  declare attention: BertAttention;
  declare intermediate: BertIntermediate;
  declare output: BertResidualOutput;
  constructor(config: BertConfig) {
    super();
    this.registerModule("attention", new BertAttention(config));
    this.registerModule("intermediate", new BertIntermediate(config));
    this.registerModule("output", new BertResidualOutput(config, config.intermediateSize));
  }
  /** firstOnly: the output holds position 0 only ([B, 1, H]); see ModelInputs.firstTokenOnly. */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, firstOnly = false): { out: Tensor; kv: KeyValue } {
    const a = this.attention.forward(x, keyMask, past, firstOnly);
    return { out: this.output.forward(this.intermediate.forward(a.out), a.out), kv: a.kv };
  }
}

export class BertEncoder extends Module {
  declare layer: ModuleList<BertLayer>;
  constructor(config: BertConfig) {
    super();
    this.registerModule("layer", new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config))));
  }
}

export class BertPooler extends Module {
  declare dense: Linear;
  constructor(config: BertConfig) {
    super();
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng: constructionRng() }));
  }
  forward(hidden: Tensor): Tensor {
    return ops.tanh(this.dense.forward(hidden.select(1, 0)));
  }
}

export function familyName(config: BertConfig): string {
  return config.modelType === "roberta" ? "Roberta" : "Bert";
}
export function prefixOf(config: BertConfig): string {
  return config.modelType === "roberta" ? "roberta" : "bert";
}
export function checkFamily(config: BertConfig, cls: string): void {
  if (config.modelType !== "bert" && config.modelType !== "roberta") {
    throw new ConfigError(`${config.source}: ${cls} needs model_type bert or roberta, got '${config.modelType}'`);
  }
}

export class BertModel extends PreTrainedModel {
  declare config: BertConfig;
  declare embeddings: BertEmbeddings;
  declare encoder: BertEncoder;
  declare pooler: BertPooler | undefined;
  readonly baseModelPrefix: string;
  constructor(config: BertConfig, opts: { addPoolingLayer?: boolean } = {}) {
    super(config);
    checkFamily(config, "BertModel");
    this.baseModelPrefix = prefixOf(config);
    this.registerModule("embeddings", new BertEmbeddings(config));
    this.registerModule("encoder", new BertEncoder(config));
    if (opts.addPoolingLayer !== false) this.registerModule("pooler", new BertPooler(config));
  }
  override get architectureName(): string {
    return `${familyName(this.config)}Model`;
  }
  getInputEmbeddings(): Embedding {
    return this.embeddings.word_embeddings;
  }
  override tolerableUnexpected(): RegExp[] {
    return this.pooler ? super.tolerableUnexpected() : [...super.tolerableUnexpected(), /(^|\.)pooler\./];
  }
  forward(inputs: ModelInputs): ModelOutput {
    const { ids, embeds, B, T, past, P } = tokenInputs(inputs, this.encoder.layer.length);
    const tt = inputs.tokenTypeIds !== undefined ? toIntBatch(inputs.tokenTypeIds, "tokenTypeIds") : null;
    const pos = inputs.positionIds !== undefined ? toIntBatch(inputs.positionIds, "positionIds") : null;
    const keyMask = keyMaskOf(inputs, B, T, P);
    const h = this.embeddings.forward(ids, embeds, tt, pos, P);
    const last = this.encoder.layer.length - 1;
    const firstOnly = inputs.firstTokenOnly === true && !inputs.outputHiddenStates && !inputs.outputAttentions;
    const out: ModelOutput = runLayerStack(this.encoder.layer, h, past, inputs, (layer, x, kv, i) => layer.forward(x, keyMask, kv, firstOnly && i === last));
    if (this.pooler) out.poolerOutput = this.pooler.forward(out.lastHiddenState!);
    return out;
  }
}
