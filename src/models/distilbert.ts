// DistilBERT: BERT's post-LN encoder under HF DistilBERT's own module names
// (distilbert.transformer.layer.N.attention.q_lin, sa_layer_norm, ffn.lin1, …), no token types,
// no pooler; and its task heads. Sinusoidal position tables are loaded from the checkpoint like
// any weight (only a model built from a config with sinusoidal_pos_embds would differ in init).

import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { Module, ModuleList } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { activation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack } from "../nn/layer_stack.js";
import * as ops from "../ops/index.js";
import type { BertConfig, PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { checkPositions, intTensor, keyMaskOf, toIntBatch, tokenInputs } from "./inputs.js";
import { encoderHeadOutput, tokenClassificationLoss } from "./heads.js";
import {
  constructionRng, FirstTokenClassificationModel, HeadModel, QuestionAnsweringModel, TokenClassificationModel, type HeadSpec,
} from "./head_models.js";
const LN_EPS = 1e-12;

function checkDistil(config: PretrainedConfig, cls: string): BertConfig {
  if (config.modelType !== "distilbert") throw new ConfigError(`${config.source}: ${cls} needs model_type distilbert, got '${config.modelType}'`);
  return config as BertConfig;
}

export class DistilBertEmbeddings extends Module {
  declare word_embeddings: Embedding;
  declare position_embeddings: Embedding;
  declare LayerNorm: LayerNorm;
  declare dropout: Dropout;
  constructor(readonly config: BertConfig) {
    super();
    const rng = constructionRng();
    this.registerModule("word_embeddings", new Embedding(config.vocabSize, config.hiddenSize, { rng }));
    this.registerModule("position_embeddings", new Embedding(config.maxPositionEmbeddings, config.hiddenSize, { rng }));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, LN_EPS));
    this.registerModule("dropout", new Dropout(config.hiddenDropoutProb));
  }
  forward(x: Tensor, positions: Int32Array, B: number, T: number): Tensor {
    checkPositions(positions, this.config.maxPositionEmbeddings, "max_position_embeddings");
    const pos = this.position_embeddings.forward(new Tensor(positions, [positions.length / T === B ? B : 1, T], "i32"));
    return this.dropout.forward(this.LayerNorm.forward(ops.add(x, pos)));
  }
}

export class MultiHeadSelfAttention extends Module {
  declare q_lin: Linear;
  declare k_lin: Linear;
  declare v_lin: Linear;
  declare out_lin: Linear;
  declare dropout: Dropout;
  readonly heads: number;
  readonly headDim: number;
  constructor(config: BertConfig) {
    super();
    const D = config.hiddenSize, rng = constructionRng();
    this.heads = config.numAttentionHeads;
    this.headDim = D / this.heads;
    if (!Number.isInteger(this.headDim)) throw new ConfigError(`${config.source}: dim ${D} is not a multiple of n_heads ${this.heads}`);
    for (const n of ["q_lin", "k_lin", "v_lin", "out_lin"]) this.registerModule(n, new Linear(D, D, { rng }));
    this.registerModule("dropout", new Dropout(config.attentionProbsDropoutProb));
  }
  /** firstOnly: queries for position 0 only (keys/values still from every position). */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, firstOnly = false): { out: Tensor; kv: KeyValue } {
    const q = splitHeads(this.q_lin.forward(firstOnly ? x.slice(1, 0, 1) : x), this.heads, this.headDim);
    const kv = withPast(past, splitHeads(this.k_lin.forward(x), this.heads, this.headDim), splitHeads(this.v_lin.forward(x), this.heads, this.headDim));
    const ctx = attention(q, kv.key, kv.value, { keyMask, causal: false, scale: 1 / Math.sqrt(this.headDim), dropoutP: this.dropout.p, training: this.training });
    return { out: this.out_lin.forward(mergeHeads(ctx)), kv };
  }
}

export class FFN extends Module {
  declare lin1: Linear;
  declare lin2: Linear;
  declare dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: BertConfig) {
    super();
    const rng = constructionRng();
    this.registerModule("lin1", new Linear(config.hiddenSize, config.intermediateSize, { rng }));
    this.registerModule("lin2", new Linear(config.intermediateSize, config.hiddenSize, { rng }));
    this.registerModule("dropout", new Dropout(config.hiddenDropoutProb));
    this.act = activation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.lin2.forward(this.act(this.lin1.forward(x))));
  }
}

export class TransformerBlock extends Module {
  declare attention: MultiHeadSelfAttention;
  declare sa_layer_norm: LayerNorm;
  declare ffn: FFN;
  declare output_layer_norm: LayerNorm;
  constructor(config: BertConfig) {
    super();
    this.registerModule("attention", new MultiHeadSelfAttention(config));
    this.registerModule("sa_layer_norm", new LayerNorm(config.hiddenSize, LN_EPS));
    this.registerModule("ffn", new FFN(config));
    this.registerModule("output_layer_norm", new LayerNorm(config.hiddenSize, LN_EPS));
  }
  /** firstOnly: the output holds position 0 only ([B, 1, H]); see ModelInputs.firstTokenOnly. */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, firstOnly = false): { out: Tensor; kv: KeyValue } {
    const a = this.attention.forward(x, keyMask, past, firstOnly);
    const h = this.sa_layer_norm.forward(ops.add(a.out, firstOnly ? x.slice(1, 0, 1) : x));
    return { out: this.output_layer_norm.forward(ops.add(this.ffn.forward(h), h)), kv: a.kv };
  }
}

export class Transformer extends Module {
  declare layer: ModuleList<TransformerBlock>;
  constructor(config: BertConfig) {
    super();
    this.registerModule("layer", new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new TransformerBlock(config))));
  }
}

export class DistilBertModel extends PreTrainedModel {
  declare config: BertConfig;
  declare embeddings: DistilBertEmbeddings;
  declare transformer: Transformer;
  readonly baseModelPrefix = "distilbert";
  constructor(config: PretrainedConfig) {
    super(checkDistil(config, "DistilBertModel"));
    this.registerModule("embeddings", new DistilBertEmbeddings(this.config));
    this.registerModule("transformer", new Transformer(this.config));
  }
  getInputEmbeddings(): Embedding {
    return this.embeddings.word_embeddings;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const { ids, embeds, B, T, past, P } = tokenInputs(inputs, this.transformer.layer.length);
    let positions: Int32Array;
    if (inputs.positionIds !== undefined) positions = toIntBatch(inputs.positionIds, "positionIds").data;
    else positions = Int32Array.from({ length: T }, (_, t) => P + t);
    const keyMask = keyMaskOf(inputs, B, T, P);
    let h = this.embeddings.forward(embeds ?? this.embeddings.word_embeddings.forward(intTensor(ids!)), positions, B, T);
    const last = this.transformer.layer.length - 1;
    const firstOnly = inputs.firstTokenOnly === true && !inputs.outputHiddenStates && !inputs.outputAttentions;
    return runLayerStack(this.transformer.layer, h, past, inputs, (layer, x, kv, i) => layer.forward(x, keyMask, kv, firstOnly && i === last));
  }
}

/** A DistilBERT head model's base: the DistilBertModel under "distilbert". */
function distilHead(config: PretrainedConfig, cls: string): HeadSpec<DistilBertModel> {
  return { config: checkDistil(config, cls), prefix: "distilbert", base: new DistilBertModel(config) };
}

export class DistilBertForSequenceClassification extends FirstTokenClassificationModel<DistilBertModel> {
  declare config: BertConfig;
  declare pre_classifier: Linear;
  declare classifier: Linear;
  declare dropout: Dropout;
  override readonly newHeadModules = ["pre_classifier", "classifier"];
  constructor(config: PretrainedConfig) {
    super(distilHead(config, "DistilBertForSequenceClassification"));
    const c = this.config, rng = constructionRng();
    this.registerModule("pre_classifier", new Linear(c.hiddenSize, c.hiddenSize, { rng }));
    this.registerModule("classifier", new Linear(c.hiddenSize, c.numLabels, { rng }));
    this.registerModule("dropout", new Dropout(c.seqClassifDropout));
  }
  protected logitsOf(o: ModelOutput): Tensor {
    // the head reads position 0 only
    return this.classifier.forward(this.dropout.forward(ops.relu(this.pre_classifier.forward(o.lastHiddenState!.select(1, 0)))));
  }
}

export class DistilBertForTokenClassification extends TokenClassificationModel<DistilBertModel> {
  declare config: BertConfig;
  constructor(config: PretrainedConfig) {
    super(distilHead(config, "DistilBertForTokenClassification"), (config as BertConfig).hiddenDropoutProb);
  }
}

export class DistilBertForQuestionAnswering extends QuestionAnsweringModel<DistilBertModel> {
  declare config: BertConfig;
  constructor(config: PretrainedConfig) {
    super(distilHead(config, "DistilBertForQuestionAnswering"), (config as BertConfig).qaDropout);
  }
}

export class DistilBertForMaskedLM extends HeadModel<DistilBertModel> {
  declare config: BertConfig;
  declare vocab_transform: Linear;
  declare vocab_layer_norm: LayerNorm;
  declare vocab_projector: Linear;
  override readonly newHeadModules = ["vocab_transform", "vocab_layer_norm", "vocab_projector"];
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: PretrainedConfig) {
    super(distilHead(config, "DistilBertForMaskedLM"));
    const c = this.config, rng = constructionRng();
    this.registerModule("vocab_transform", new Linear(c.hiddenSize, c.hiddenSize, { rng }));
    this.registerModule("vocab_layer_norm", new LayerNorm(c.hiddenSize, LN_EPS));
    this.registerModule("vocab_projector", new Linear(c.hiddenSize, c.vocabSize, { rng }));
    this.act = activation(c.hiddenAct);
    this.tieWeights();
  }
  override tiedWeights(): Record<string, string> {
    return this.config.tieWordEmbeddings ? { "vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight" } : {};
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runBase(inputs);
    const h = this.vocab_layer_norm.forward(this.act(this.vocab_transform.forward(o.lastHiddenState!)));
    const logits = this.vocab_projector.forward(h);
    const out = encoderHeadOutput(o, { logits });
    if (inputs.labels !== undefined) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}
