// The encoder–decoder base models without an LM head, as transformers' AutoModel gives them: T5Model,
// BartModel and MarianModel (names as in PyTorch: shared.weight, encoder.…, decoder.…; a
// *ForConditionalGeneration checkpoint loads with its head left out, with a notice). forward() returns
// the decoder's last hidden state (T5: not rescaled, that happens before the head), the encoder's, and
// the decoder cache with useCache.

import type { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { globalRng, type Rng } from "../tensor/random.js";
import type { Module } from "../nn/module.js";
import type { Embedding } from "../nn/layers.js";
import type { BartConfig, PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type IdsLike, type ModelOutput } from "./modeling_utils.js";
import { intTensor, toIntBatch } from "./inputs.js";
import { T5PreTrainedModel, T5Stack } from "./t5.js";
import { BartForConditionalGeneration, BartModel as BartStacks, type BartStack } from "./bart.js";
import { shiftTokensRight, type Seq2SeqInputs, type Seq2SeqLayerCache } from "./seq2seq.js";

/** What the base models return (HF's Seq2SeqModelOutput names). */
export interface Seq2SeqModelOutput extends ModelOutput {
  lastHiddenState: Tensor;
  encoderLastHiddenState: Tensor;
  pastKeyValues?: Seq2SeqLayerCache[];
}

type EncoderInputs = { inputIds?: IdsLike; inputsEmbeds?: Tensor; attentionMask?: IdsLike };

/** HF's T5Model: shared embedding, encoder and decoder stacks, no head. */
export class T5Model extends T5PreTrainedModel {
  declare decoder: T5Stack;
  constructor(config: PretrainedConfig) {
    super(config, "T5Model");
    this.registerModule("decoder", new T5Stack(this.config, this.shared, true));
    this.tieWeights();
  }
  override tolerableUnexpected(): RegExp[] {
    return [/^lm_head\./];
  }
  forward(inputs: Seq2SeqInputs): Seq2SeqModelOutput {
    const enc = inputs.encoderOutputs?.lastHiddenState ?? this.encode(inputs as EncoderInputs);
    if (inputs.decoderInputIds === undefined && inputs.decoderInputsEmbeds === undefined) {
      throw new ShapeError("T5Model.forward: give decoderInputIds (or decoderInputsEmbeds); the base model has no labels to shift");
    }
    const useCache = inputs.useCache ?? this.config.useCache;
    const dec = this.decoder.forward(
      { ids: inputs.decoderInputIds, embeds: inputs.decoderInputsEmbeds, mask: inputs.decoderAttentionMask },
      { hidden: enc, mask: inputs.attentionMask }, inputs.pastKeyValues, { ...inputs, useCache },
    );
    return baseOutput(dec, enc, useCache);
  }
}

function baseOutput(dec: ModelOutput & { lastHiddenState: Tensor }, enc: Tensor, useCache: boolean | undefined): Seq2SeqModelOutput {
  const out: Seq2SeqModelOutput = { lastHiddenState: dec.lastHiddenState, encoderLastHiddenState: enc };
  if (dec.hiddenStates) out.hiddenStates = dec.hiddenStates;
  if (useCache) out.pastKeyValues = dec.pastKeyValues as Seq2SeqLayerCache[];
  return out;
}

/**
 * HF's BartModel / MarianModel: the stacks of the conditional-generation model (bart.ts) registered at
 * the top level. BART without decoder inputs shifts its input ids right (denoising), as HF does.
 */
export class BartModel extends PreTrainedModel {
  declare config: BartConfig;
  declare shared: Embedding | undefined;
  declare encoder: BartStack;
  declare decoder: BartStack;
  readonly baseModelPrefix = "model";
  private readonly headModel: BartForConditionalGeneration;
  constructor(config: PretrainedConfig, want: "bart" | "marian" = "bart") {
    super(config);
    if (config.modelType !== want) throw new ConfigError(`${config.source}: ${want === "bart" ? "BartModel" : "MarianModel"} needs model_type ${want}, got '${config.modelType}'`);
    // the conditional-generation model builds (and HF-initialises) the same stacks; this model holds them, not its head
    this.headModel = new BartForConditionalGeneration(config, want);
    const stacks = this.headModel.model as BartStacks;
    for (const [name, m] of stacks.children()) this.registerModule(name, m as Module);
  }
  getInputEmbeddings(): Embedding {
    return this.encoder.embed_tokens;
  }
  override tiedWeights(): Record<string, string> {
    return this.config.shareEncoderDecoderEmbeddings ? { "encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight" } : {};
  }
  override ignoredUnexpected(): RegExp[] {
    return [...super.ignoredUnexpected(), /^(encoder|decoder)\.version$/, ...(this.config.modelType === "marian" ? [/embed_positions\.weight$/] : [])];
  }
  override tolerableUnexpected(): RegExp[] {
    return [/^lm_head\./, /^final_logits_bias$/];
  }
  override initModule(m: Module, rng: Rng = globalRng): void {
    this.headModel.initModule(m, rng);
  }
  encode(inputs: EncoderInputs): Tensor {
    return this.encoder.forward({ ids: inputs.inputIds, embeds: inputs.inputsEmbeds, mask: inputs.attentionMask }, null, undefined, {}).lastHiddenState;
  }
  forward(inputs: Seq2SeqInputs): Seq2SeqModelOutput {
    const c = this.config;
    const enc = inputs.encoderOutputs?.lastHiddenState ?? this.encode(inputs as EncoderInputs);
    let decIds = inputs.decoderInputIds;
    if (decIds === undefined && inputs.decoderInputsEmbeds === undefined) {
      if (c.modelType !== "bart" || inputs.inputIds === undefined) throw new ShapeError(`${this.architectureName}.forward: give decoderInputIds (or decoderInputsEmbeds)`);
      decIds = intTensor(shiftTokensRight(toIntBatch(inputs.inputIds, "inputIds"), c.decoderStartTokenId, c.padTokenId, c.source));
    }
    const useCache = inputs.useCache ?? c.useCache;
    const dec = this.decoder.forward(
      { ids: decIds, embeds: inputs.decoderInputsEmbeds, mask: inputs.decoderAttentionMask },
      { hidden: enc, mask: inputs.attentionMask }, inputs.pastKeyValues, { outputHiddenStates: inputs.outputHiddenStates, useCache },
    );
    return baseOutput(dec, enc, useCache);
  }
}

export class MarianModel extends BartModel {
  constructor(config: PretrainedConfig) {
    super(config, "marian");
  }
}
