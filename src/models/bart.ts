// BART and Marian/MarianMT in one file: both are post-LN encoder–decoders with biased q/k/v/out
// projections and a head with final_logits_bias; the differences are config switches. BART: learned
// positions with an offset of 2, layernorm_embedding, one shared embedding (scaled by √d_model with
// scale_embedding). Marian: sinusoidal positions (fixed, not saved), no layernorm_embedding,
// embeddings shared or the encoder's and decoder's own (head tied to the decoder's). PyTorch names:
// model.shared.weight, model.encoder.layers.N.self_attn.q_proj.weight, …, lm_head.weight, final_logits_bias.

import { Tensor, type NestedArray } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { globalRng, type Rng } from "../tensor/random.js";
import { Module, ModuleList } from "../nn/module.js";
import { Embedding, forwardAct, LayerNorm, Linear } from "../nn/layers.js";
import { activation, fusedActivation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { pastLength, withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack, type LayerStackOutput } from "../nn/layer_stack.js";
import * as ops from "../ops/index.js";
import type { BartConfig, PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type IdsLike, type LoadOptions, type ModelOutput } from "./modeling_utils.js";
import { asFloatTensor, checkPositions, intTensor, keyMaskOf, toIntBatch } from "./inputs.js";
import { constructionRng } from "./head_models.js";
import { generate, type GenerateOptions } from "./generate.js";
import { labelBatch, seq2seqLoss, shiftTokensRight, withSeq2SeqExtras, type Seq2SeqInputs, type Seq2SeqLayerCache, type Seq2SeqOutput } from "./seq2seq.js";

function checkBart(config: PretrainedConfig, cls: string, want: "bart" | "marian"): BartConfig {
  if (config.modelType !== want) throw new ConfigError(`${config.source}: ${cls} needs model_type ${want}, got '${config.modelType}'`);
  return config;
}

/** Multi-head attention with biased projections (registered k, v, q, out as PyTorch lists them). */
export class BartAttention extends Module {
  declare k_proj: Linear;
  declare v_proj: Linear;
  declare q_proj: Linear;
  declare out_proj: Linear;
  constructor(readonly embedDim: number, readonly numHeads: number, readonly dropoutP: number) {
    super();
    const rng = constructionRng();
    for (const n of ["k_proj", "v_proj", "q_proj", "out_proj"]) this.registerModule(n, new Linear(embedDim, embedDim, { rng }));
  }
  /** source: the encoder output (cross-attention) or null; past: self — prepended keys/values, cross — used as is. */
  forward(x: Tensor, source: Tensor | null, keyMask: Tensor | null, causal: boolean, past: KeyValue | undefined): { out: Tensor; kv: KeyValue } {
    const H = this.numHeads, D = this.embedDim / H;
    const q = splitHeads(this.q_proj.forward(x), H, D);
    let kv: KeyValue;
    if (source) kv = past ?? { key: splitHeads(this.k_proj.forward(source), H, D), value: splitHeads(this.v_proj.forward(source), H, D) };
    else kv = withPast(past, splitHeads(this.k_proj.forward(x), H, D), splitHeads(this.v_proj.forward(x), H, D));
    const ctx = attention(q, kv.key, kv.value, { keyMask, causal, scale: D ** -0.5, dropoutP: this.dropoutP, training: this.training, cross: source !== null });
    return { out: this.out_proj.forward(mergeHeads(ctx)), kv };
  }
}

/** fc1 → activation → fc2 (the feed-forward of both layer kinds). */
function feedForward(layer: Module & { fc1: Linear; fc2: Linear }, config: BartConfig, x: Tensor): Tensor {
  const fused = fusedActivation(config.hiddenAct);
  const h = fused ? forwardAct(layer.fc1, x, fused) : activation(config.hiddenAct)(layer.fc1.forward(x));
  return layer.fc2.forward(ops.dropout(h, config.activationDropout, layer.training));
}

/** One post-LN layer: self-attention, cross-attention (decoder), feed-forward, each residual + LayerNorm. */
export class BartLayer extends Module {
  declare self_attn: BartAttention;
  declare self_attn_layer_norm: LayerNorm;
  declare encoder_attn: BartAttention | undefined;
  declare encoder_attn_layer_norm: LayerNorm | undefined;
  declare fc1: Linear;
  declare fc2: Linear;
  declare final_layer_norm: LayerNorm;
  constructor(readonly config: BartConfig, readonly isDecoder: boolean) {
    super();
    const c = config, E = c.hiddenSize, rng = constructionRng();
    const heads = isDecoder ? c.decoderAttentionHeads : c.numAttentionHeads, ffn = isDecoder ? c.decoderFfnDim : c.encoderFfnDim;
    this.registerModule("self_attn", new BartAttention(E, heads, c.attentionDropout));
    this.registerModule("self_attn_layer_norm", new LayerNorm(E));
    if (isDecoder) {
      this.registerModule("encoder_attn", new BartAttention(E, heads, c.attentionDropout));
      this.registerModule("encoder_attn_layer_norm", new LayerNorm(E));
    }
    this.registerModule("fc1", new Linear(E, ffn, { rng }));
    this.registerModule("fc2", new Linear(ffn, E, { rng }));
    this.registerModule("final_layer_norm", new LayerNorm(E));
  }
  forward(x: Tensor, masks: { self: Tensor | null; cross: Tensor | null }, encoder: Tensor | null, past: Seq2SeqLayerCache | undefined): { out: Tensor; kv: Seq2SeqLayerCache } {
    const p = this.config.dropout, drop = (t: Tensor) => ops.dropout(t, p, this.training);
    const a = this.self_attn.forward(x, null, masks.self, this.isDecoder, past && past.key ? { key: past.key, value: past.value } : undefined);
    let h = this.self_attn_layer_norm.forward(ops.add(x, drop(a.out)));
    const kv: Seq2SeqLayerCache = { ...a.kv };
    if (this.isDecoder) {
      if (!encoder) throw new ShapeError("decoder: the encoder's hidden states are needed for cross-attention");
      const c = this.encoder_attn!.forward(h, encoder, masks.cross, false, past?.cross);
      h = this.encoder_attn_layer_norm!.forward(ops.add(h, drop(c.out)));
      kv.cross = c.kv;
    }
    return { out: this.final_layer_norm.forward(ops.add(h, drop(feedForward(this, this.config, h)))), kv };
  }
}

/** Marian's fixed sinusoidal table (sin in the first half of each row, cos in the second), not a parameter. */
export class SinusoidalPositions extends Module {
  declare weight: Tensor;
  constructor(numPositions: number, dim: number) {
    super();
    const w = new Float32Array(numPositions * dim), half = dim % 2 === 0 ? dim / 2 : (dim + 1) / 2;
    for (let pos = 0; pos < numPositions; pos++) {
      for (let j = 0; j < dim; j++) {
        const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
        // even j → sin column j/2, odd j → cos column half + (j-1)/2
        if (j % 2 === 0) w[pos * dim + j / 2] = Math.sin(angle);
        else w[pos * dim + half + (j - 1) / 2] = Math.cos(angle);
      }
    }
    this.registerBuffer("weight", new Tensor(w, [numPositions, dim]));
  }
}

export class BartStack extends Module {
  declare embed_tokens: Embedding;
  declare embed_positions: Embedding | SinusoidalPositions;
  declare layernorm_embedding: LayerNorm | undefined;
  declare layers: ModuleList<BartLayer>;
  private readonly marian: boolean;
  constructor(readonly config: BartConfig, embeddings: Embedding, readonly isDecoder: boolean) {
    super();
    const c = config;
    this.marian = c.modelType === "marian";
    this.registerModule("embed_tokens", embeddings);
    this.registerModule("embed_positions", this.marian
      ? new SinusoidalPositions(c.maxPositionEmbeddings, c.hiddenSize)
      : new Embedding(c.maxPositionEmbeddings + 2, c.hiddenSize, { rng: constructionRng() }));
    const n = isDecoder ? c.decoderLayers : c.numHiddenLayers;
    this.registerModule("layers", new ModuleList(Array.from({ length: n }, () => new BartLayer(c, isDecoder))));
    if (!this.marian) this.registerModule("layernorm_embedding", new LayerNorm(c.hiddenSize)); // after the layers, as PyTorch lists it
  }
  /** Token embeddings (× √d_model with scale_embedding) + positions P…P+T−1. */
  private embed(ids: IdsLike | undefined, embeds: Tensor | undefined, P: number): Tensor {
    const c = this.config, scale = c.scaleEmbedding ? Math.sqrt(c.hiddenSize) : 1;
    let h: Tensor;
    if (ids !== undefined) h = ops.scale(this.embed_tokens.forward(intTensor(toIntBatch(ids, this.isDecoder ? "decoderInputIds" : "inputIds"))), scale);
    else h = this.marian && this.isDecoder ? ops.scale(embeds!, scale) : embeds!; // as HF: Marian's decoder scales given embeds too
    const T = h.shape[1], pos = new Int32Array(T);
    for (let t = 0; t < T; t++) pos[t] = P + t;
    checkPositions(pos, c.maxPositionEmbeddings, "max_position_embeddings");
    const table = this.embed_positions instanceof SinusoidalPositions
      ? this.embed_positions.weight.slice(0, P, P + T)
      : this.embed_positions.forward(new Tensor(pos.map((p) => p + 2), [T], "i32"));
    h = ops.add(h, table);
    if (this.layernorm_embedding) h = this.layernorm_embedding.forward(h);
    return ops.dropout(h, c.dropout, this.training);
  }
  forward(
    x: { ids: IdsLike | undefined; embeds: Tensor | undefined; mask: IdsLike | undefined },
    encoder: { hidden: Tensor; mask: IdsLike | undefined } | null, past: Seq2SeqLayerCache[] | undefined, opts: { outputHiddenStates?: boolean; outputAttentions?: boolean; useCache?: boolean },
  ): LayerStackOutput {
    const what = this.isDecoder ? "decoder" : "encoder";
    if ((x.ids === undefined) === (x.embeds === undefined)) throw new ShapeError(`${what}: give exactly one of ids or embeds`);
    if (past && past.length !== this.layers.length) throw new ShapeError(`pastKeyValues has ${past.length} layers, the decoder has ${this.layers.length}`);
    const P = pastLength(past?.[0]?.key ? past : undefined);
    const h = this.embed(x.ids, x.embeds, P);
    const [B, T] = h.shape;
    const masks = {
      self: keyMaskOf({ attentionMask: x.mask }, B, T, P),
      cross: encoder && encoder.mask !== undefined ? keyMaskOf({ attentionMask: encoder.mask }, B, encoder.hidden.shape[1], 0) : null,
    };
    return runLayerStack(this.layers, h, past, opts, (layer, hs, kv) => layer.forward(hs, masks, encoder?.hidden ?? null, kv as Seq2SeqLayerCache | undefined));
  }
}

/** The encoder and decoder with their embeddings (HF's BartModel / MarianModel, under "model"). */
export class BartModel extends Module {
  declare shared: Embedding | undefined;
  declare encoder: BartStack;
  declare decoder: BartStack;
  constructor(readonly config: BartConfig) {
    super();
    const c = config, rng = constructionRng();
    // padding_idx = pad_token_id, as HF builds them: the pad row gets no gradient
    const tokens = (V: number) => new Embedding(V, c.hiddenSize, { rng, gradPaddingIdx: c.padTokenId });
    if (c.shareEncoderDecoderEmbeddings) {
      const shared = this.registerModule("shared", tokens(c.vocabSize));
      this.registerModule("encoder", new BartStack(c, shared, false));
      this.registerModule("decoder", new BartStack(c, shared, true));
    } else {
      this.registerModule("encoder", new BartStack(c, tokens(c.vocabSize), false));
      this.registerModule("decoder", new BartStack(c, tokens(c.decoderVocabSize), true));
    }
  }
}

/** BartForConditionalGeneration (and, as a subclass, MarianMTModel). */
export class BartForConditionalGeneration extends PreTrainedModel {
  declare config: BartConfig;
  declare model: BartModel;
  declare lm_head: Linear;
  declare final_logits_bias: Tensor;
  readonly baseModelPrefix = "model";
  readonly isEncoderDecoder = true as const;
  constructor(config: PretrainedConfig, want: "bart" | "marian" = "bart") {
    super(checkBart(config, want === "bart" ? "BartForConditionalGeneration" : "MarianMTModel", want));
    const c = this.config;
    this.registerModule("model", new BartModel(c));
    const V = c.shareEncoderDecoderEmbeddings ? c.vocabSize : c.decoderVocabSize;
    this.registerModule("lm_head", new Linear(c.hiddenSize, V, { bias: false, rng: constructionRng() }));
    // a buffer in PyTorch (saved, never trained): a parameter here that nothing sets trainable
    this.registerParameter("final_logits_bias", Tensor.zeros([1, V]));
    this.tieWeights();
  }
  getInputEmbeddings(): Embedding {
    return this.model.encoder.embed_tokens;
  }
  override tiedWeights(): Record<string, string> {
    if (!this.config.shareEncoderDecoderEmbeddings) return { "lm_head.weight": "model.decoder.embed_tokens.weight" };
    return { "model.encoder.embed_tokens.weight": "model.shared.weight", "model.decoder.embed_tokens.weight": "model.shared.weight", "lm_head.weight": "model.shared.weight" };
  }
  override ignoredUnexpected(): RegExp[] {
    return [...super.ignoredUnexpected(), /^model\.(encoder|decoder)\.version$/, ...(this.config.modelType === "marian" ? [/embed_positions\.weight$/] : [])];
  }
  /** HF init (init_std), plus the padding row of the decoder's own embedding zeroed; final_logits_bias zeros. */
  override initModule(m: Module, rng: Rng = globalRng): void {
    super.initModule(m, rng);
    const pad = this.config.padTokenId, dec = this.model.decoder.embed_tokens;
    if (pad !== null && pad >= 0 && pad < dec.numEmbeddings && m.namedModules().some(([, s]) => s === dec)) dec.weight.data.fill(0, pad * dec.embeddingDim, (pad + 1) * dec.embeddingDim);
    if (m === this) this.final_logits_bias.data.fill(0);
  }
  /** A checkpoint without final_logits_bias loads with zeros (HF's _keys_to_ignore_on_load_missing). */
  override loadWeights(tensors: Map<string, Tensor>, source: string, opts: LoadOptions = {}): void {
    if (!tensors.has("final_logits_bias") && !tensors.has("model.final_logits_bias")) {
      tensors = new Map(tensors).set("final_logits_bias", Tensor.zeros(this.final_logits_bias.shape));
    }
    super.loadWeights(tensors, source, opts);
  }
  /** The encoder's last hidden state [B, T, d_model]; `encoderPrefix`: keys/values per layer attended before the tokens (prefix tuning). */
  encode(inputs: { inputIds?: IdsLike; inputsEmbeds?: Tensor; attentionMask?: IdsLike; encoderPrefix?: KeyValue[] }): Tensor {
    return this.runEncoder(inputs, {}).lastHiddenState;
  }
  private runEncoder(
    inputs: { inputIds?: IdsLike; inputsEmbeds?: Tensor | NestedArray; attentionMask?: IdsLike; encoderPrefix?: KeyValue[] },
    opts: { outputHiddenStates?: boolean; outputAttentions?: boolean },
  ): LayerStackOutput {
    const embeds = inputs.inputsEmbeds !== undefined ? asFloatTensor(inputs.inputsEmbeds) : undefined;
    return this.model.encoder.forward({ ids: inputs.inputIds, embeds, mask: inputs.attentionMask }, null, inputs.encoderPrefix, opts);
  }
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
      // BART without decoder inputs denoises: the encoder's ids shifted right (BartModel.forward)
      const from = labels ?? (c.modelType === "bart" && inputs.inputIds !== undefined ? toIntBatch(inputs.inputIds, "inputIds") : null);
      if (!from) throw new ShapeError(`${this.architectureName}.forward: give decoderInputIds (or labels, shifted right into them)`);
      decIds = intTensor(shiftTokensRight(from, c.decoderStartTokenId, c.padTokenId, c.source));
    }
    const useCache = labels ? false : inputs.useCache ?? c.useCache; // as HF: labels turn the cache off
    const dec = this.model.decoder.forward(
      { ids: decIds, embeds: inputs.decoderInputsEmbeds, mask: inputs.decoderAttentionMask },
      { hidden: enc, mask: inputs.attentionMask }, inputs.pastKeyValues, { ...extras, useCache },
    );
    const logits = ops.add(this.lm_head.forward(dec.lastHiddenState), this.final_logits_bias);
    const out = withSeq2SeqExtras({ logits, encoderLastHiddenState: enc, lastHiddenState: dec.lastHiddenState }, encOut, dec);
    if (useCache) out.pastKeyValues = dec.pastKeyValues as Seq2SeqLayerCache[];
    if (labels) out.loss = seq2seqLoss(logits, labels);
    return out;
  }
}

export class MarianMTModel extends BartForConditionalGeneration {
  constructor(config: PretrainedConfig) {
    super(config, "marian");
  }
}
