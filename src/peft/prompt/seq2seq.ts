// Prompt learning on encoder–decoders, as PEFT's PeftModelForSeq2SeqLM does it (peft 0.21):
// - num_transformer_submodules is 2, so prompt tuning / p-tuning hold 2·V virtual-token rows, of which
//   only the first V are used: they are prepended to the ENCODER's input embeddings (PEFT's
//   word_embeddings(input_ids), which for BART is its scaled embedding), the encoder attention mask
//   gets V leading ones; the decoder and its mask are untouched.
// - prefix tuning keeps V rows of width num_layers·2·token_dim, viewed [V, 2L, H, D]; PEFT concatenates
//   that view with itself ([V, 4L, …]) and splits it into groups of 4 per decoder layer (self key,
//   self value, cross key, cross value). The cross part is dropped (cross-attention is recomputed
//   from the encoder), so decoder layer l takes blocks (4l) mod 2L and (4l+1) mod 2L; the encoder gets
//   no prefix and the decoder attention mask V leading ones (decoder positions start at V).
// - peft-ts's `encoder_prefix` option (not in PEFT) doubles the row width: after PEFT's 2L blocks come
//   2L more, encoder layer l taking blocks 2L+2l (keys) and 2L+2l+1 (values), seen by the encoder's
//   self-attention as V earlier positions.

import { Tensor } from "../../tensor/tensor.js";
import { ConfigError, PeftError, ShapeError } from "../../tensor/errors.js";
import { cat, scale as scaleOp } from "../../ops/index.js";
import type { Module } from "../../nn/module.js";
import type { KeyValue } from "../../nn/kv_cache.js";
import type { IdsLike, PreTrainedModel } from "../../models/modeling_utils.js";
import { intTensor, toIntBatch } from "../../models/inputs.js";
import type { EncoderDecoderLM, Seq2SeqInputs, Seq2SeqOutput } from "../../models/seq2seq.js";
import { callForward } from "../containers.js";
import type { PromptLearningConfig } from "./config.js";
import type { PromptModule } from "./model.js";
import { hasEncoderPrefix, prefixBlock, prefixBlocks } from "./prefix_layout.js";

type Seq2SeqModel = PreTrainedModel & EncoderDecoderLM;

/** Encoder inputs with an optional self-attention prefix per encoder layer. */
export interface PrefixedEncoderInputs {
  inputIds?: IdsLike;
  inputsEmbeds?: Tensor;
  attentionMask?: IdsLike;
  /** Keys/values [B, H, V, D] per encoder layer, attended before the tokens (peft-ts's encoder prefixes). */
  encoderPrefix?: KeyValue[];
}

interface StackShape {
  layers: number;
  heads: number;
  headDim: number;
}

/** Layers, heads and head width of the decoder and encoder stacks of T5 / BART / Marian. */
function stackShapes(model: PreTrainedModel): { encoder: StackShape; decoder: StackShape } {
  const c = model.config as unknown as Record<string, number>;
  const E = c.hiddenSize, H = c.numAttentionHeads;
  if (model.config.modelType === "t5") {
    return { encoder: { layers: c.numHiddenLayers, heads: H, headDim: c.dKv }, decoder: { layers: c.numDecoderLayers, heads: H, headDim: c.dKv } };
  }
  return {
    encoder: { layers: c.numHiddenLayers, heads: H, headDim: E / H },
    decoder: { layers: c.decoderLayers, heads: c.decoderAttentionHeads, headDim: E / c.decoderAttentionHeads },
  };
}

/** Checks that PEFT's prefix layout fits the model's attention (PEFT fails inside the model otherwise). */
export function checkSeq2SeqPrefix(cfg: PromptLearningConfig, model: PreTrainedModel): void {
  if (cfg.peftType !== "PREFIX_TUNING") return;
  const L = cfg.numLayers!, H = cfg.numAttentionHeads!, D = cfg.tokenDim! / H;
  const s = stackShapes(model), arch = model.architectureName;
  const fits = (st: StackShape, what: string) => {
    if (st.heads !== H || st.headDim !== D) {
      throw new ConfigError(`PREFIX_TUNING: the prefix has num_attention_heads=${H} of width token_dim/heads=${D}, but the ${what} of ${arch} has ${st.heads} heads of width ${st.headDim}; set num_attention_heads / token_dim to match (PEFT fails on this model too)`);
    }
  };
  fits(s.decoder, "decoder");
  if (s.decoder.layers > L) {
    throw new ConfigError(`PREFIX_TUNING: num_layers=${L} gives prefixes for ${L} layers, but the decoder of ${arch} has ${s.decoder.layers}; set num_layers to at least the decoder's layer count`);
  }
  if (hasEncoderPrefix(cfg)) {
    fits(s.encoder, "encoder");
    if (s.encoder.layers !== L) throw new ConfigError(`PREFIX_TUNING encoder_prefix: num_layers=${L} differs from the encoder's ${s.encoder.layers} layers`);
  }
}

/** PEFT's word_embeddings(ids) relative to the embedding table: BART's is a BartScaledWordEmbedding (×√d_model with scale_embedding). */
export function wordEmbeddingScale(model: PreTrainedModel): number {
  const c = model.config as unknown as { modelType: string; scaleEmbedding?: boolean; hiddenSize: number };
  return c.modelType === "bart" && c.scaleEmbedding ? Math.sqrt(c.hiddenSize) : 1;
}

/** The decoder's prefixes in PEFT's layer order, and the encoder's (peft-ts's option) or null. */
export function seq2seqPrefixes(rows: Tensor, B: number, cfg: PromptLearningConfig, decoderLayers: number): { decoder: KeyValue[]; encoder: KeyValue[] | null } {
  const L = cfg.numLayers!, blocks = prefixBlocks(cfg);
  const decoder: KeyValue[] = [];
  for (let l = 0; l < decoderLayers; l++) {
    decoder.push({ key: prefixBlock(rows, B, cfg, (4 * l) % (2 * L), blocks), value: prefixBlock(rows, B, cfg, (4 * l + 1) % (2 * L), blocks) });
  }
  if (!hasEncoderPrefix(cfg)) return { decoder, encoder: null };
  const encoder: KeyValue[] = [];
  for (let l = 0; l < L; l++) encoder.push({ key: prefixBlock(rows, B, cfg, 2 * L + 2 * l, blocks), value: prefixBlock(rows, B, cfg, 2 * L + 2 * l + 1, blocks) });
  return { decoder, encoder };
}

function batchOf(inputs: { inputIds?: IdsLike; inputsEmbeds?: unknown }): number {
  if (inputs.inputIds !== undefined) return toIntBatch(inputs.inputIds, "inputIds").shape[0];
  if (inputs.inputsEmbeds instanceof Tensor) return inputs.inputsEmbeds.shape[0];
  throw new ShapeError("prompt learning forward: pass inputIds or inputsEmbeds (a Tensor)");
}

/** [B, T] ones-and-mask with V leading ones. */
function withLeadingOnes(mask: IdsLike, V: number): Tensor {
  const b = toIntBatch(mask, "attentionMask"), [B, T] = b.shape;
  const out = new Int32Array(B * (V + T)).fill(1);
  for (let i = 0; i < B; i++) out.set(b.data.subarray(i * T, (i + 1) * T), i * (V + T) + V);
  return intTensor({ data: out, shape: [B, V + T] });
}

/** The model's encoder output with the adapter's virtual tokens (prompt tuning, p-tuning) or encoder prefixes. */
export function encodeWithPrompts(
  cfg: PromptLearningConfig, module: PromptModule, model: Seq2SeqModel, wordEmbeddings: Module,
  inputs: { inputIds?: IdsLike; inputsEmbeds?: Tensor; attentionMask?: IdsLike },
): Tensor {
  const encode = (x: PrefixedEncoderInputs) => model.encode(x as { inputIds: IdsLike });
  const B = batchOf(inputs), V = cfg.numVirtualTokens;
  if (cfg.peftType === "PREFIX_TUNING") {
    if (!hasEncoderPrefix(cfg)) return encode(inputs);
    const prefixes = seq2seqPrefixes(module.prompts(cfg.inferenceMode), B, cfg, 0);
    return encode({ ...inputs, encoderPrefix: prefixes.encoder! });
  }
  let embeds = inputs.inputsEmbeds;
  if (embeds === undefined) {
    const s = wordEmbeddingScale(model);
    const e = callForward<Tensor>(wordEmbeddings, intTensor(toIntBatch(inputs.inputIds!, "inputIds")));
    embeds = s === 1 ? e : scaleOp(e, s);
  }
  const rows = module.prompts(cfg.inferenceMode).slice(0, 0, V);
  const prompts = rows.unsqueeze(0).expand([B, V, rows.shape[1]]).contiguous();
  return encode({
    inputsEmbeds: cat([prompts, embeds], 1),
    ...(inputs.attentionMask !== undefined ? { attentionMask: withLeadingOnes(inputs.attentionMask, V) } : {}),
  });
}

/** The forward of an encoder–decoder with the prompt-learning adapter `module` (config `cfg`). */
export function promptForwardSeq2Seq(
  cfg: PromptLearningConfig, module: PromptModule, model: Seq2SeqModel, wordEmbeddings: Module, inputs: Seq2SeqInputs,
): Seq2SeqOutput {
  const V = cfg.numVirtualTokens;
  const next: Seq2SeqInputs = { ...inputs };
  let encoderHidden = inputs.encoderOutputs?.lastHiddenState;
  if (!encoderHidden) {
    encoderHidden = encodeWithPrompts(cfg, module, model, wordEmbeddings, inputs as { inputIds?: IdsLike; inputsEmbeds?: Tensor; attentionMask?: IdsLike });
    next.encoderOutputs = { lastHiddenState: encoderHidden };
    delete next.inputIds;
    delete next.inputsEmbeds;
  }
  if (cfg.peftType !== "PREFIX_TUNING") {
    // cross-attention sees the virtual tokens too: the source mask gets their V leading ones
    if (inputs.attentionMask !== undefined) {
      const T = toIntBatch(inputs.attentionMask, "attentionMask").shape[1];
      if (T + V === encoderHidden.shape[1]) next.attentionMask = withLeadingOnes(inputs.attentionMask, V);
      else if (T !== encoderHidden.shape[1]) throw new ShapeError(`${cfg.peftType}: attentionMask has ${T} positions, the encoder output ${encoderHidden.shape[1]} (expected ${encoderHidden.shape[1] - V} source tokens + ${V} virtual tokens)`);
    }
    return (model as EncoderDecoderLM).forward(next);
  }
  // prefix tuning: the decoder's self-attention starts with the prefix (generation hands the grown cache back)
  if (inputs.pastKeyValues === undefined) {
    const B = encoderHidden.shape[0];
    const decoderLayers = stackShapes(model).decoder.layers;
    next.pastKeyValues = seq2seqPrefixes(module.prompts(cfg.inferenceMode), B, cfg, decoderLayers).decoder;
  } else if (inputs.pastKeyValues.length === 0) {
    throw new PeftError("PREFIX_TUNING: pastKeyValues is empty");
  }
  return (model as EncoderDecoderLM).forward(next);
}
