// BERT and RoBERTa encoders (post-LN) with HF's module names, and their task heads.
// RoBERTa is a config switch: the "roberta" prefix, position ids counted from padding_idx+1,
// its own classification and LM heads.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/random.js";
import { Module, ModuleList } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, Linear, forwardAct } from "../nn/layers.js";
import { activation, fusedActivation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { withPast, type KeyValue } from "../nn/kv_cache.js";
import * as ops from "../ops/index.js";
import type { BiasActOp } from "../ops/index.js";
import type { BertConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { checkPositions, intTensor, keyMaskOf, toIntBatch, tokenInputs, type IntBatch } from "./inputs.js";
import { questionAnsweringLoss, sequenceClassificationLoss, tokenClassificationLoss } from "./heads.js";

// Construction draws from a private generator: weights are overwritten by loading or initWeights().
const constructionRng = () => new Rng(0);

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
  readonly heads: number;
  readonly headDim: number;
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
  constructor(config: BertConfig) {
    super();
    this.registerModule("dense", new Linear(config.hiddenSize, config.intermediateSize, { rng: constructionRng() }));
    this.act = activation(config.hiddenAct);
    this.fusedAct = fusedActivation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
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

function familyName(config: BertConfig): string {
  return config.modelType === "roberta" ? "Roberta" : "Bert";
}
function prefixOf(config: BertConfig): string {
  return config.modelType === "roberta" ? "roberta" : "bert";
}
function checkFamily(config: BertConfig, cls: string): void {
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
    let h = this.embeddings.forward(ids, embeds, tt, pos, P);
    const hiddenStates: Tensor[] = [h];
    const newKv: KeyValue[] = [];
    const last = this.encoder.layer.length - 1;
    const firstOnly = inputs.firstTokenOnly === true && !inputs.outputHiddenStates;
    let i = 0;
    for (const layer of this.encoder.layer) {
      const r = layer.forward(h, keyMask, past?.[i], firstOnly && i === last);
      i++;
      h = r.out;
      newKv.push(r.kv);
      hiddenStates.push(h);
    }
    const out: ModelOutput = { lastHiddenState: h };
    if (this.pooler) out.poolerOutput = this.pooler.forward(h);
    if (inputs.outputHiddenStates) out.hiddenStates = hiddenStates;
    if (inputs.useCache) out.pastKeyValues = newKv;
    return out;
  }
}

/** Base for heads: holds the encoder under "bert"/"roberta". */
abstract class BertHeadModel extends PreTrainedModel {
  declare config: BertConfig;
  readonly baseModelPrefix: string;
  constructor(config: BertConfig, cls: string, addPoolingLayer: boolean) {
    super(config);
    checkFamily(config, cls);
    this.baseModelPrefix = prefixOf(config);
    this.registerModule(this.baseModelPrefix, new BertModel(config, { addPoolingLayer }));
  }
  get encoderModel(): BertModel {
    return this.getSubmodule(this.baseModelPrefix) as BertModel;
  }
  getInputEmbeddings(): Embedding {
    return this.encoderModel.getInputEmbeddings();
  }
  override tolerableUnexpected(): RegExp[] {
    const extra = this.encoderModel.pooler ? [] : [new RegExp(`^${this.baseModelPrefix}\\.pooler\\.`)];
    return [...super.tolerableUnexpected(), ...extra];
  }
  protected runEncoder(inputs: ModelInputs): ModelOutput {
    const { labels, startPositions, endPositions, ...rest } = inputs;
    return this.encoderModel.forward(rest);
  }
  /** firstTokenOnly: the run's lastHiddenState holds position 0 only, so it is not passed on. */
  protected passThrough(o: ModelOutput, firstTokenOnly = false): ModelOutput {
    // HF's head outputs carry only logits/hidden_states; the encoder outputs are kept as a convenience
    const out: ModelOutput = firstTokenOnly && !o.hiddenStates ? {} : { lastHiddenState: o.lastHiddenState };
    if (o.poolerOutput) out.poolerOutput = o.poolerOutput;
    if (o.hiddenStates) out.hiddenStates = o.hiddenStates;
    if (o.pastKeyValues) out.pastKeyValues = o.pastKeyValues;
    return out;
  }
}

/** RobertaClassificationHead: dropout → dense → tanh → dropout → out_proj on the first token. */
export class RobertaClassificationHead extends Module {
  declare dense: Linear;
  declare dropout: Dropout;
  declare out_proj: Linear;
  constructor(config: BertConfig) {
    super();
    const rng = constructionRng();
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng }));
    this.registerModule("dropout", new Dropout(config.classifierDropout ?? config.hiddenDropoutProb));
    this.registerModule("out_proj", new Linear(config.hiddenSize, config.numLabels, { rng }));
  }
  forward(hidden: Tensor): Tensor {
    let x = this.dropout.forward(hidden.select(1, 0));
    x = this.dropout.forward(ops.tanh(this.dense.forward(x)));
    return this.out_proj.forward(x);
  }
}

export class BertForSequenceClassification extends BertHeadModel {
  declare dropout: Dropout;
  declare classifier: Linear | RobertaClassificationHead;
  override readonly newHeadModules = ["classifier"];
  constructor(config: BertConfig) {
    super(config, "BertForSequenceClassification", config.modelType !== "roberta");
    this.registerModule("dropout", new Dropout(config.classifierDropout ?? config.hiddenDropoutProb));
    this.registerModule("classifier", config.modelType === "roberta"
      ? new RobertaClassificationHead(config)
      : new Linear(config.hiddenSize, config.numLabels, { rng: constructionRng() }));
  }
  override get architectureName(): string {
    return `${familyName(this.config)}ForSequenceClassification`;
  }
  forward(inputs: ModelInputs): ModelOutput {
    // both heads read position 0 only, so the last layer computes nothing else
    const o = this.runEncoder({ ...inputs, firstTokenOnly: true });
    const logits = this.classifier instanceof RobertaClassificationHead
      ? this.classifier.forward(o.lastHiddenState!)
      : this.classifier.forward(this.dropout.forward(o.poolerOutput!));
    const out: ModelOutput = { ...this.passThrough(o, true), logits };
    if (inputs.labels !== undefined) out.loss = sequenceClassificationLoss(logits, inputs.labels, this.config);
    return out;
  }
}

export class BertForTokenClassification extends BertHeadModel {
  declare dropout: Dropout;
  declare classifier: Linear;
  override readonly newHeadModules = ["classifier"];
  constructor(config: BertConfig) {
    super(config, "BertForTokenClassification", false);
    this.registerModule("dropout", new Dropout(config.classifierDropout ?? config.hiddenDropoutProb));
    this.registerModule("classifier", new Linear(config.hiddenSize, config.numLabels, { rng: constructionRng() }));
  }
  override get architectureName(): string {
    return `${familyName(this.config)}ForTokenClassification`;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runEncoder(inputs);
    const logits = this.classifier.forward(this.dropout.forward(o.lastHiddenState!));
    const out: ModelOutput = { ...this.passThrough(o), logits };
    if (inputs.labels !== undefined) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}

export class BertForQuestionAnswering extends BertHeadModel {
  declare qa_outputs: Linear;
  override readonly newHeadModules = ["qa_outputs"];
  constructor(config: BertConfig) {
    super(config, "BertForQuestionAnswering", false);
    this.registerModule("qa_outputs", new Linear(config.hiddenSize, 2, { rng: constructionRng() }));
  }
  override get architectureName(): string {
    return `${familyName(this.config)}ForQuestionAnswering`;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runEncoder(inputs);
    const logits = this.qa_outputs.forward(o.lastHiddenState!);
    const [startLogits, endLogits] = ops.split(logits, 1, -1).map((t) => t.squeeze(-1).contiguous());
    const out: ModelOutput = { ...this.passThrough(o), startLogits, endLogits };
    if (inputs.startPositions !== undefined && inputs.endPositions !== undefined) {
      out.loss = questionAnsweringLoss(startLogits, endLogits, inputs.startPositions, inputs.endPositions);
    }
    return out;
  }
}

/** cls.predictions.transform: dense → act → LayerNorm (BERT); lm_head dense → gelu → layer_norm (RoBERTa). */
export class BertPredictionHeadTransform extends Module {
  declare dense: Linear;
  declare LayerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: BertConfig) {
    super();
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.act = activation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(this.act(this.dense.forward(x)));
  }
}

export class BertLMPredictionHead extends Module {
  declare bias: Tensor;
  declare transform: BertPredictionHeadTransform;
  declare decoder: Linear;
  constructor(config: BertConfig) {
    super();
    // bias first, so that namedParameters() lists it under this name rather than decoder.bias
    this.registerParameter("bias", Tensor.zeros([config.vocabSize]).requiresGrad_());
    this.registerModule("transform", new BertPredictionHeadTransform(config));
    this.registerModule("decoder", new Linear(config.hiddenSize, config.vocabSize, { bias: false, rng: constructionRng() }));
    this.decoder.registerParameter("bias", this.bias);
  }
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(x));
  }
}

export class BertOnlyMLMHead extends Module {
  declare predictions: BertLMPredictionHead;
  constructor(config: BertConfig) {
    super();
    this.registerModule("predictions", new BertLMPredictionHead(config));
  }
}

export class RobertaLMHead extends Module {
  declare bias: Tensor;
  declare dense: Linear;
  declare layer_norm: LayerNorm;
  declare decoder: Linear;
  constructor(config: BertConfig) {
    super();
    this.registerParameter("bias", Tensor.zeros([config.vocabSize]).requiresGrad_());
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("layer_norm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.registerModule("decoder", new Linear(config.hiddenSize, config.vocabSize, { bias: false, rng: constructionRng() }));
    this.decoder.registerParameter("bias", this.bias);
  }
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.layer_norm.forward(ops.gelu(this.dense.forward(x), "none")));
  }
}

export class BertForMaskedLM extends BertHeadModel {
  override readonly newHeadModules: string[];
  declare cls: BertOnlyMLMHead | undefined;
  declare lm_head: RobertaLMHead | undefined;
  constructor(config: BertConfig) {
    super(config, "BertForMaskedLM", false);
    this.newHeadModules = [config.modelType === "roberta" ? "lm_head" : "cls"];
    if (config.modelType === "roberta") this.registerModule("lm_head", new RobertaLMHead(config));
    else this.registerModule("cls", new BertOnlyMLMHead(config));
    this.tieWeights();
  }
  override get architectureName(): string {
    return `${familyName(this.config)}ForMaskedLM`;
  }
  override tiedWeights(): Record<string, string> {
    const p = this.baseModelPrefix;
    const t: Record<string, string> = {};
    const head = this.lm_head ? "lm_head" : "cls.predictions";
    if (this.config.tieWordEmbeddings) t[`${head}.decoder.weight`] = `${p}.embeddings.word_embeddings.weight`;
    t[`${head}.decoder.bias`] = `${head}.bias`;
    return t;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runEncoder(inputs);
    const logits = this.lm_head ? this.lm_head.forward(o.lastHiddenState!) : this.cls!.predictions.forward(o.lastHiddenState!);
    const out: ModelOutput = { ...this.passThrough(o), logits };
    if (inputs.labels !== undefined) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}
