// T5 (original: ReLU feed-forward, tied head with the d_model^-0.5 rescale; v1.1: gated-GELU, untied
// head) as T5ForConditionalGeneration and T5EncoderModel, with PyTorch's state_dict names
// (shared.weight, encoder.block.N.layer.0.SelfAttention.q.weight, …, lm_head.weight).
// Attention is unscaled and gets a learned relative position bias (bucketed distances,
// bidirectional in the encoder, causal in the decoder) computed by each stack's first layer and
// shared by the others; cross-attention has no position bias. Norms are T5LayerNorm (RMS, no bias).

import { Tensor, type NestedArray } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { globalRng, type Rng } from "../tensor/random.js";
import { Module, ModuleList } from "../nn/module.js";
import { Embedding, Linear, RMSNorm } from "../nn/layers.js";
import { activation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { capturingAttentions, reportAttention } from "../nn/attention_capture.js";
import { pastLength, withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack, type LayerStackOutput } from "../nn/layer_stack.js";
import * as ops from "../ops/index.js";
import type { PretrainedConfig, T5Config } from "../io/hf_config.js";
import { PreTrainedModel, type IdsLike, type LoadOptions, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { asFloatTensor, intTensor, keyMaskOf, toIntBatch } from "./inputs.js";
import { constructionRng } from "./head_models.js";
import { generate, type GenerateOptions } from "./generate.js";
import {
  additiveMask, labelBatch, seq2seqHeadOutput, shiftTokensRight, withSeq2SeqExtras, type Seq2SeqInputs, type Seq2SeqLayerCache, type Seq2SeqOutput,
} from "./seq2seq.js";

function checkT5(config: PretrainedConfig, cls: string): T5Config {
  if (config.modelType !== "t5") throw new ConfigError(`${config.source}: ${cls} needs model_type t5, got '${config.modelType}'`);
  return config;
}

/**
 * HF's T5Attention._relative_position_bucket for one distance (memory − query position), with the
 * float32 rounding of its log step so that bucket edges fall where PyTorch's do.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0, n = numBuckets, rel = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (rel < maxExact) return bucket + rel;
  const f = Math.fround;
  const large = maxExact + Math.trunc(f(f(f(Math.log(f(rel / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact)));
  return bucket + Math.min(large, n - 1);
}

export class T5Attention extends Module {
  declare q: Linear;
  declare k: Linear;
  declare v: Linear;
  declare o: Linear;
  declare relative_attention_bias: Embedding | undefined;
  constructor(readonly config: T5Config, readonly hasRelativeAttentionBias: boolean, readonly isDecoder: boolean) {
    super();
    const rng = constructionRng();
    const { hiddenSize: E, numAttentionHeads: H, dKv: D } = config;
    this.registerModule("q", new Linear(E, H * D, { bias: false, rng }));
    this.registerModule("k", new Linear(E, H * D, { bias: false, rng }));
    this.registerModule("v", new Linear(E, H * D, { bias: false, rng }));
    this.registerModule("o", new Linear(H * D, E, { bias: false, rng }));
    if (hasRelativeAttentionBias) this.registerModule("relative_attention_bias", new Embedding(config.relativeAttentionNumBuckets, H, { rng }));
  }
  /** The position bias [1, H, Tq, Tk] for queries at positions P…P+Tq−1 over keys 0…Tk−1. */
  positionBias(Tq: number, Tk: number, P: number): Tensor {
    if (!this.relative_attention_bias) throw new ShapeError("T5Attention.positionBias: this layer has no relative_attention_bias");
    const c = this.config, ids = new Int32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) {
      for (let j = 0; j < Tk; j++) ids[i * Tk + j] = relativePositionBucket(j - (i + P), !this.isDecoder, c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance);
    }
    const values = this.relative_attention_bias.forward(new Tensor(ids, [Tq, Tk], "i32")); // [Tq, Tk, H]
    return values.permute([2, 0, 1]).unsqueeze(0);
  }
  /**
   * x [B, Tq, E]; `source` = the encoder output for cross-attention (null: self-attention);
   * `bias` = self-attention: position bias + mask, broadcast onto the [B, H, Tq, Tk] scores;
   * cross-attention: the 1/0 source key mask [B, Tk] (or null); `past` = this layer's
   * cache (self: concatenated with the new keys; cross: used instead of computing them).
   */
  forward(x: Tensor, source: Tensor | null, bias: Tensor | null, past: KeyValue | undefined): { out: Tensor; kv: KeyValue } {
    const H = this.config.numAttentionHeads, D = this.config.dKv;
    const q = splitHeads(this.q.forward(x), H, D);
    let kv: KeyValue;
    if (source) kv = past ?? { key: splitHeads(this.k.forward(source), H, D), value: splitHeads(this.v.forward(source), H, D) };
    else kv = withPast(past, splitHeads(this.k.forward(x), H, D), splitHeads(this.v.forward(x), H, D));
    // cross-attention has no position bias: the fused kernel with the 1/0 source mask (same math, no
    // [B,H,Tq,Tk] buffers kept for backward); single-query decoding steps are faster unfused
    if (source && x.shape[1] > 1 && !capturingAttentions()) {
      const ctx = attention(q, kv.key, kv.value, { keyMask: bias, causal: false, scale: 1, dropoutP: this.config.dropoutRate, training: this.training });
      return { out: this.o.forward(mergeHeads(ctx)), kv };
    }
    let scores = ops.matmul(q, kv.key.transpose(2, 3)); // T5 does not scale q·k
    if (source && bias) scores = ops.add(scores, additiveMask(bias, q.shape[0], q.shape[2], kv.key.shape[2], null)!);
    else if (bias) scores = ops.add(scores, bias);
    const weights = ops.softmax(scores, -1);
    reportAttention(weights, source !== null);
    const probs = ops.dropout(weights, this.config.dropoutRate, this.training);
    return { out: this.o.forward(mergeHeads(ops.matmul(probs, kv.value))), kv };
  }
}

/** T5LayerSelfAttention / T5LayerCrossAttention: pre-norm attention with a residual. */
export class T5LayerAttention extends Module {
  declare layer_norm: RMSNorm;
  constructor(readonly config: T5Config, readonly name: "SelfAttention" | "EncDecAttention", attention: T5Attention) {
    super();
    this.registerModule(name, attention);
    this.registerModule("layer_norm", new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
  }
  get attention(): T5Attention {
    return this.getSubmodule(this.name) as T5Attention;
  }
  forward(x: Tensor, source: Tensor | null, bias: Tensor | null, past: KeyValue | undefined): { out: Tensor; kv: KeyValue } {
    const a = this.attention.forward(this.layer_norm.forward(x), source, bias, past);
    return { out: ops.add(x, ops.dropout(a.out, this.config.dropoutRate, this.training)), kv: a.kv };
  }
}

/** T5DenseActDense (wi → act → wo) or T5DenseGatedActDense (act(wi_0) · wi_1 → wo). */
export class T5DenseReluDense extends Module {
  declare wi: Linear | undefined;
  declare wi_0: Linear | undefined;
  declare wi_1: Linear | undefined;
  declare wo: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(readonly config: T5Config) {
    super();
    const rng = constructionRng(), E = config.hiddenSize, F = config.dFf;
    if (config.isGatedAct) {
      this.registerModule("wi_0", new Linear(E, F, { bias: false, rng }));
      this.registerModule("wi_1", new Linear(E, F, { bias: false, rng }));
    } else {
      this.registerModule("wi", new Linear(E, F, { bias: false, rng }));
    }
    this.registerModule("wo", new Linear(F, E, { bias: false, rng }));
    this.act = activation(config.denseActFn);
  }
  forward(x: Tensor): Tensor {
    const h = this.wi ? this.act(this.wi.forward(x)) : ops.mul(this.act(this.wi_0!.forward(x)), this.wi_1!.forward(x));
    return this.wo.forward(ops.dropout(h, this.config.dropoutRate, this.training));
  }
}

export class T5LayerFF extends Module {
  declare DenseReluDense: T5DenseReluDense;
  declare layer_norm: RMSNorm;
  constructor(readonly config: T5Config) {
    super();
    this.registerModule("DenseReluDense", new T5DenseReluDense(config));
    this.registerModule("layer_norm", new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
  }
  forward(x: Tensor): Tensor {
    return ops.add(x, ops.dropout(this.DenseReluDense.forward(this.layer_norm.forward(x)), this.config.dropoutRate, this.training));
  }
}

/** Biases every block of a stack shares: self-attention (position bias + additive mask) and cross-attention (1/0 key mask). */
interface StackBiases {
  self: Tensor | null;
  cross: Tensor | null;
}

export class T5Block extends Module {
  declare layer: ModuleList;
  constructor(readonly config: T5Config, hasRelativeAttentionBias: boolean, readonly isDecoder: boolean) {
    super();
    const layers: Module[] = [new T5LayerAttention(config, "SelfAttention", new T5Attention(config, hasRelativeAttentionBias, isDecoder))];
    if (isDecoder) layers.push(new T5LayerAttention(config, "EncDecAttention", new T5Attention(config, false, isDecoder)));
    layers.push(new T5LayerFF(config));
    this.registerModule("layer", new ModuleList(layers));
  }
  forward(x: Tensor, biases: StackBiases, encoder: Tensor | null, past: Seq2SeqLayerCache | undefined): { out: Tensor; kv: Seq2SeqLayerCache } {
    const self = (this.layer.get(0) as T5LayerAttention).forward(x, null, biases.self, past && past.key ? { key: past.key, value: past.value } : undefined);
    let h = self.out;
    const kv: Seq2SeqLayerCache = { ...self.kv };
    if (this.isDecoder) {
      if (!encoder) throw new ShapeError("T5 decoder: the encoder's hidden states are needed for cross-attention");
      const cross = (this.layer.get(1) as T5LayerAttention).forward(h, encoder, biases.cross, past?.cross);
      h = cross.out;
      kv.cross = cross.kv;
    }
    return { out: (this.layer.get(this.isDecoder ? 2 : 1) as T5LayerFF).forward(h), kv };
  }
}

export class T5Stack extends Module {
  declare embed_tokens: Embedding;
  declare block: ModuleList<T5Block>;
  declare final_layer_norm: RMSNorm;
  constructor(readonly config: T5Config, embeddings: Embedding, readonly isDecoder: boolean) {
    super();
    this.registerModule("embed_tokens", embeddings);
    const n = isDecoder ? config.numDecoderLayers : config.numHiddenLayers;
    this.registerModule("block", new ModuleList(Array.from({ length: n }, (_, i) => new T5Block(config, i === 0, isDecoder))));
    this.registerModule("final_layer_norm", new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
  }
  /** ids or embeds [B, T]; keyMask [B, P + T] (1/0) or null; encoder: hidden states + their mask (decoder only). */
  forward(
    x: { ids: IdsLike | undefined; embeds: Tensor | undefined; mask: IdsLike | undefined },
    encoder: { hidden: Tensor; mask: IdsLike | undefined } | null, past: Seq2SeqLayerCache[] | undefined, opts: ModelInputs,
  ): LayerStackOutput {
    if ((x.ids === undefined) === (x.embeds === undefined)) throw new ShapeError(`T5 ${this.isDecoder ? "decoder" : "encoder"}: give exactly one of ids or embeds`);
    const ids = x.ids !== undefined ? toIntBatch(x.ids, this.isDecoder ? "decoderInputIds" : "inputIds") : null;
    const embeds = x.embeds !== undefined ? asFloatTensor(x.embeds) : null;
    const [B, T] = ids ? ids.shape : [embeds!.shape[0], embeds!.shape[1]];
    if (past && past.length !== this.block.length) throw new ShapeError(`pastKeyValues has ${past.length} layers, the decoder has ${this.block.length}`);
    const P = pastLength(past?.[0]?.key ? past : undefined);
    const keyMask = keyMaskOf({ attentionMask: x.mask }, B, T, P);
    const first = (this.block.get(0).layer.get(0) as T5LayerAttention).attention;
    const pos = first.positionBias(T, P + T, P);
    const mask = additiveMask(keyMask, B, T, P + T, this.isDecoder ? P : null);
    const biases: StackBiases = { self: mask ? ops.add(pos, mask) : pos, cross: null };
    if (encoder) {
      const Te = encoder.hidden.shape[1];
      const em = encoder.mask !== undefined ? keyMaskOf({ attentionMask: encoder.mask }, B, Te, 0) : null;
      biases.cross = em;
    }
    let h = embeds ?? this.embed_tokens.forward(intTensor(ids!));
    h = ops.dropout(h, this.config.dropoutRate, this.training);
    const out = runLayerStack(this.block, h, past, opts, (block, hs, kv) => block.forward(hs, biases, encoder?.hidden ?? null, kv as Seq2SeqLayerCache | undefined),
      (hs) => ops.dropout(this.final_layer_norm.forward(hs), this.config.dropoutRate, this.training));
    return out;
  }
}

/** HF's T5 _init_weights (initializer_factor f): by layer role rather than one std for all. */
function initT5(model: PreTrainedModel, config: T5Config, m: Module, rng: Rng): void {
  const f = config.initializerFactor, E = config.hiddenSize, std = (s: number) => (t: Tensor) => rng.fillNormal(t.data as Float32Array, 0, f * s);
  const tied = new Set(Object.keys(model.tiedWeights()).map((n) => model.stateDict().get(n)));
  for (const [path, sub] of m.namedModules()) {
    const last = path.slice(path.lastIndexOf(".") + 1);
    if (sub instanceof RMSNorm) sub.weight.data.fill(f);
    else if (sub instanceof Embedding) std(last === "relative_attention_bias" ? E ** -0.5 : 1)(sub.weight);
    else if (sub instanceof Linear && !tied.has(sub.weight)) {
      const s = { q: (E * config.dKv) ** -0.5, k: E ** -0.5, v: E ** -0.5, o: (config.numAttentionHeads * config.dKv) ** -0.5,
        wi: E ** -0.5, wi_0: E ** -0.5, wi_1: E ** -0.5, wo: config.dFf ** -0.5, lm_head: 1 }[last] ?? 1;
      std(s)(sub.weight);
    }
  }
}

export abstract class T5PreTrainedModel extends PreTrainedModel {
  declare config: T5Config;
  declare shared: Embedding;
  declare encoder: T5Stack;
  readonly baseModelPrefix = "transformer";
  constructor(config: PretrainedConfig, cls: string) {
    super(checkT5(config, cls));
    this.registerModule("shared", new Embedding(this.config.vocabSize, this.config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("encoder", new T5Stack(this.config, this.shared, false));
  }
  getInputEmbeddings(): Embedding {
    return this.shared;
  }
  override tiedWeights(): Record<string, string> {
    const out: Record<string, string> = { "encoder.embed_tokens.weight": "shared.weight" };
    if (this.hasDecoder) out["decoder.embed_tokens.weight"] = "shared.weight";
    return out;
  }
  protected get hasDecoder(): boolean {
    return this.children().some(([n]) => n === "decoder");
  }
  override ignoredUnexpected(): RegExp[] {
    return [...super.ignoredUnexpected(), /^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/];
  }
  override initModule(m: Module, rng: Rng = globalRng): void {
    initT5(this, this.config, m, rng);
  }
  /** The encoder's last hidden state [B, T, d_model]; `encoderPrefix`: keys/values per layer attended before the tokens (prefix tuning). */
  encode(inputs: { inputIds?: IdsLike; inputsEmbeds?: Tensor; attentionMask?: IdsLike; encoderPrefix?: KeyValue[] }): Tensor {
    return this.runEncoder(inputs, {}).lastHiddenState;
  }
  protected runEncoder(
    inputs: { inputIds?: IdsLike; inputsEmbeds?: Tensor | NestedArray; attentionMask?: IdsLike; encoderPrefix?: KeyValue[] }, opts: ModelInputs,
  ): LayerStackOutput {
    const embeds = inputs.inputsEmbeds !== undefined ? asFloatTensor(inputs.inputsEmbeds) : undefined;
    return this.encoder.forward({ ids: inputs.inputIds, embeds, mask: inputs.attentionMask }, null, inputs.encoderPrefix, opts);
  }
}

/** The encoder alone (HF's T5EncoderModel): lastHiddenState [B, T, d_model]. */
export class T5EncoderModel extends T5PreTrainedModel {
  constructor(config: PretrainedConfig) {
    super(config, "T5EncoderModel");
  }
  override tolerableUnexpected(): RegExp[] {
    return [/^decoder\./, /^lm_head\./];
  }
  forward(inputs: ModelInputs): ModelOutput {
    const ids = inputs.inputIds, embeds = inputs.inputsEmbeds !== undefined ? asFloatTensor(inputs.inputsEmbeds) : undefined;
    return this.encoder.forward({ ids, embeds, mask: inputs.attentionMask }, null, undefined, inputs);
  }
}

export class T5ForConditionalGeneration extends T5PreTrainedModel {
  declare decoder: T5Stack;
  declare lm_head: Linear;
  readonly isEncoderDecoder = true as const;
  constructor(config: PretrainedConfig) {
    super(config, "T5ForConditionalGeneration");
    const c = this.config;
    this.registerModule("decoder", new T5Stack(c, this.shared, true));
    this.registerModule("lm_head", new Linear(c.hiddenSize, c.vocabSize, { bias: false, rng: constructionRng() }));
    this.headTied = c.tieWordEmbeddings;
    this.tieWeights();
  }
  /** Whether lm_head shares shared.weight (config, unless the checkpoint holds a head of its own). */
  private headTied: boolean;
  override tiedWeights(): Record<string, string> {
    const out = super.tiedWeights();
    if (this.headTied) out["lm_head.weight"] = "shared.weight";
    return out;
  }
  /**
   * As transformers 5 does: a tied config whose checkpoint holds an lm_head.weight that differs from
   * shared.weight loads untied (with a notice), so v1.1 checkpoints keep their own head.
   */
  override loadWeights(tensors: Map<string, Tensor>, source: string, opts: LoadOptions = {}): void {
    const head = tensors.get("lm_head.weight"), emb = tensors.get("shared.weight") ?? tensors.get("encoder.embed_tokens.weight");
    if (this.headTied && head && emb && head.shape.length === 2 && !sameValues(head, emb)) {
      (opts.log ?? ((s: string) => console.warn(s)))(`${source}: lm_head.weight differs from shared.weight in the checkpoint, so they are not tied (as transformers does)`);
      this.headTied = false;
      this.lm_head.registerParameter("weight", Tensor.zeros(this.lm_head.weight.shape).requiresGrad_());
    }
    super.loadWeights(tensors, source, opts);
  }
  /** generate() on this model: the decoder's ids (start token first) for each source row. */
  generate(inputIds: number[][] | number[] | Tensor, opts: GenerateOptions = {}): number[][] {
    return generate(this, inputIds, opts);
  }
  forward(inputs: Seq2SeqInputs): Seq2SeqOutput {
    const c = this.config;
    const extras = { outputHiddenStates: inputs.outputHiddenStates, outputAttentions: inputs.outputAttentions };
    const encOut = inputs.encoderOutputs ? null : this.runEncoder(inputs, extras);
    const enc = inputs.encoderOutputs?.lastHiddenState ?? encOut!.lastHiddenState;
    const labels = labelBatch(inputs.labels);
    let decIds = inputs.decoderInputIds;
    if (decIds === undefined && inputs.decoderInputsEmbeds === undefined) {
      if (!labels) throw new ShapeError("T5ForConditionalGeneration.forward: give decoderInputIds (or labels, shifted right into them)");
      decIds = intTensor(shiftTokensRight(labels, c.decoderStartTokenId, c.padTokenId, c.source));
    }
    const useCache = inputs.useCache ?? c.useCache;
    const dec = this.decoder.forward(
      { ids: decIds, embeds: inputs.decoderInputsEmbeds, mask: inputs.decoderAttentionMask },
      { hidden: enc, mask: inputs.attentionMask }, inputs.pastKeyValues, { ...inputs, useCache },
    );
    const h = c.scaleDecoderOutputs ? ops.scale(dec.lastHiddenState, c.hiddenSize ** -0.5) : dec.lastHiddenState;
    // with labels the loss skips the [B·T, vocab] logits (computed only when read)
    const head = Object.assign(seq2seqHeadOutput(h, this.lm_head, labels), { encoderLastHiddenState: enc, lastHiddenState: dec.lastHiddenState }) as Seq2SeqOutput;
    const out = withSeq2SeqExtras(head, encOut, dec);
    if (useCache) out.pastKeyValues = dec.pastKeyValues as Seq2SeqLayerCache[];
    return out;
  }
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const x = a.f32(), y = b.f32();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
