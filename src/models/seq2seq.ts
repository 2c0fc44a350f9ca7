// What every encoder–decoder shares: the inputs and outputs of a Seq2SeqLM forward (HF's
// Seq2SeqLMOutput names), the per-layer decoder cache (self-attention keys/values that grow with
// each step, cross-attention keys/values computed once from the encoder output), labels shifted
// right into decoder inputs, additive attention masks and the LM loss.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";
import type { KeyValue } from "../nn/kv_cache.js";
import type { IdsLike, ModelInputs, ModelOutput } from "./modeling_utils.js";
import { toIntBatch, type IntBatch } from "./inputs.js";
import type { LayerStackOutput } from "../nn/layer_stack.js";
import { Linear } from "../nn/layers.js";
import { defineLazyLogits } from "./heads.js";

/**
 * One decoder layer's cache: `key`/`value` are its self-attention keys and values so far (so a
 * list of these is a plain KeyValue[] to code that only knows decoder-only caches), `cross` the
 * cross-attention keys and values of the encoder output, computed on the first step and reused.
 */
export interface Seq2SeqLayerCache extends KeyValue {
  cross?: KeyValue;
}

export interface Seq2SeqInputs extends ModelInputs {
  decoderInputIds?: IdsLike;
  /** [B, Td] (or [B, P + Td] with a cache); 1 = attend. */
  decoderAttentionMask?: IdsLike;
  decoderInputsEmbeds?: Tensor;
  /** A previous call's encoder output: the encoder is not run again. */
  encoderOutputs?: { lastHiddenState: Tensor };
  /** Per decoder layer; entries without `cross` get their cross-attention keys/values computed. */
  pastKeyValues?: Seq2SeqLayerCache[];
}

export interface Seq2SeqOutput extends ModelOutput {
  logits: Tensor;
  encoderLastHiddenState: Tensor;
  pastKeyValues?: Seq2SeqLayerCache[];
  /** With outputHiddenStates: the encoder's embeddings then each layer's output (when the encoder ran in this call). */
  encoderHiddenStates?: Tensor[];
  /** With outputHiddenStates: the decoder's (also given as hiddenStates). */
  decoderHiddenStates?: Tensor[];
  /** With outputAttentions: per encoder layer [B, heads, Ts, Ts] (when the encoder ran in this call). */
  encoderAttentions?: Tensor[];
  /** With outputAttentions: per decoder layer, self-attention [B, heads, Td, P + Td] (also given as attentions). */
  decoderAttentions?: Tensor[];
  /** With outputAttentions: per decoder layer, attention over the encoder output [B, heads, Td, Ts]. */
  crossAttentions?: Tensor[];
}

/** The hidden states and attention weights of the encoder (null: not run in this call) and decoder, by HF's names. */
export function withSeq2SeqExtras(out: Seq2SeqOutput, enc: LayerStackOutput | null, dec: LayerStackOutput): Seq2SeqOutput {
  if (dec.hiddenStates) out.hiddenStates = out.decoderHiddenStates = dec.hiddenStates;
  if (dec.attentions) {
    out.attentions = out.decoderAttentions = dec.attentions;
    out.crossAttentions = dec.crossAttentions ?? [];
  }
  if (enc?.hiddenStates) out.encoderHiddenStates = enc.hiddenStates;
  if (enc?.attentions) out.encoderAttentions = enc.attentions;
  return out;
}

/** Models that generate with an encoder and a decoder (generate() dispatches on this). */
export interface EncoderDecoderLM {
  readonly isEncoderDecoder: true;
  /** The encoder alone: its last hidden state for the given ids and mask. */
  encode(inputs: { inputIds: IdsLike; attentionMask?: IdsLike }): Tensor;
  forward(inputs: Seq2SeqInputs): Seq2SeqOutput;
}

export function isEncoderDecoder(model: unknown): model is EncoderDecoderLM {
  return typeof model === "object" && model !== null && (model as { isEncoderDecoder?: unknown }).isEncoderDecoder === true;
}

/** HF's shift_tokens_right: decoder inputs from labels (start token first, −100 → pad). */
export function shiftTokensRight(labels: IntBatch, decoderStartTokenId: number | null, padTokenId: number | null, source: string): IntBatch {
  if (decoderStartTokenId === null) throw new ConfigError(`${source}: decoder_start_token_id is not set; it is needed to make decoder_input_ids from labels (T5 uses the pad token id)`);
  if (padTokenId === null) throw new ConfigError(`${source}: pad_token_id is not set; it is needed to replace -100 in labels shifted into decoder_input_ids`);
  const [B, T] = labels.shape;
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    out[b * T] = decoderStartTokenId;
    for (let t = 1; t < T; t++) {
      const v = labels.data[b * T + t - 1];
      out[b * T + t] = v === -100 ? padTokenId : v;
    }
  }
  return { data: out, shape: [B, T] };
}

/** torch.finfo(float32).min, the value HF's masks add to masked scores. */
const MASKED = -3.4028234663852886e38;

/**
 * Additive mask [B, 1, Tq, Tk] (or [B, 1, 1, Tk] without causality) from a 1/0 key mask [B, Tk]:
 * 0 where attended, float32 min where masked; `causalPast` = P makes query i see keys j ≤ P + i.
 * Null when nothing is masked.
 */
export function additiveMask(keyMask: Tensor | null, B: number, Tq: number, Tk: number, causalPast: number | null): Tensor | null {
  if (!keyMask && causalPast === null) return null;
  const km = keyMask ? keyMask.f32() : null;
  if (km && km.length !== B * Tk) throw new ShapeError(`attention mask has ${km.length / B} keys per row, expected ${Tk}`);
  const rows = causalPast === null ? 1 : Tq;
  const out = new Float32Array(B * rows * Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < rows; i++) {
      const o = (b * rows + i) * Tk;
      for (let j = 0; j < Tk; j++) {
        const masked = (km !== null && km[b * Tk + j] === 0) || (causalPast !== null && j > causalPast + i);
        if (masked) out[o + j] = MASKED;
      }
    }
  }
  return new Tensor(out, [B, 1, rows, Tk]);
}

/** Mean cross entropy of [B, T, V] logits against [B, T] labels (−100 ignored), as HF's Seq2SeqLM heads. */
export function seq2seqLoss(logits: Tensor, labels: IntBatch): Tensor {
  const [B, T, V] = logits.shape;
  if (labels.shape[0] !== B || labels.shape[1] !== T) throw new ShapeError(`labels of shape [${labels.shape}] do not fit decoder logits [${logits.shape}]`);
  return ops.crossEntropy(logits.reshape([B * T, V]), labels.data);
}

/**
 * The head's logits and, with labels, the LM loss of decoder states h [B, T, E]: with a plain bias-free
 * Linear head (no adapter or hook on it) the loss comes from h and the head weight without the
 * [B·T, vocab] logits (ops.linearCrossEntropy) and the logits are computed on first read, as causal LMs
 * do (heads.ts causalLMOutput); otherwise logits then cross entropy.
 */
export function seq2seqHeadOutput(h: Tensor, lmHead: { forward(x: Tensor): Tensor }, labels: IntBatch | null): { logits: Tensor; loss?: Tensor } {
  const plain = lmHead instanceof Linear && lmHead.forward === Linear.prototype.forward && !lmHead.bias;
  if (!labels || !plain) {
    const logits = lmHead.forward(h);
    return labels ? { logits, loss: seq2seqLoss(logits, labels) } : { logits };
  }
  const [B, T, E] = h.shape;
  if (labels.shape[0] !== B || labels.shape[1] !== T) throw new ShapeError(`labels of shape [${labels.shape}] do not fit decoder states [${h.shape}]`);
  const out = {} as { logits: Tensor; loss?: Tensor };
  defineLazyLogits(out, () => lmHead.forward(h));
  out.loss = ops.linearCrossEntropy(h.reshape([B * T, E]), (lmHead as Linear).weight, labels.data);
  return out;
}

/** labels as an int batch (a Tensor or nested arrays of token ids). */
export function labelBatch(labels: Seq2SeqInputs["labels"]): IntBatch | null {
  if (labels === undefined) return null;
  if (labels instanceof Tensor) return toIntBatch(labels, "labels");
  return toIntBatch(labels as number[][], "labels");
}
