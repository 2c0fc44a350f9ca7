// Prompt-learning configs (PEFT's PromptLearningConfig family): prompt tuning, prefix tuning and
// p-tuning. num_layers / token_dim / num_attention_heads / num_transformer_submodules are filled
// from the model config when the adapter is created, and saved, as peft does.

import { PeftConfig, PeftConfigOptions, PeftType, checkOneOf, checkPositiveInt } from "../config.js";
import { ConfigError } from "../../tensor/errors.js";

export interface PromptLearningConfigOptions extends PeftConfigOptions {
  /** Number of virtual tokens (required). */
  numVirtualTokens?: number;
  tokenDim?: number | null;
  numTransformerSubmodules?: number | null;
  numAttentionHeads?: number | null;
  numLayers?: number | null;
  modulesToSave?: string[] | null;
}

const PROMPT_LEARNING_DEFAULTS = {
  numVirtualTokens: null,
  tokenDim: null,
  numTransformerSubmodules: null,
  numAttentionHeads: null,
  numLayers: null,
  modulesToSave: null,
};

export abstract class PromptLearningConfig extends PeftConfig {
  declare numVirtualTokens: number;
  declare tokenDim: number | null;
  declare numTransformerSubmodules: number | null;
  declare numAttentionHeads: number | null;
  declare numLayers: number | null;
  declare modulesToSave: string[] | null;

  protected constructor(peftType: PeftType, defaults: Record<string, unknown>, opts: object) {
    super(peftType, { ...PROMPT_LEARNING_DEFAULTS, ...defaults }, opts);
  }
  override get isPromptLearning(): boolean {
    return true;
  }
  override validate(): void {
    const c = this.constructor.name;
    if (this.numVirtualTokens === null || this.numVirtualTokens === undefined) throw new ConfigError(`${c}: num_virtual_tokens is required`);
    checkPositiveInt(c, "num_virtual_tokens", this.numVirtualTokens);
  }
}

export type PromptTuningInit = "RANDOM" | "TEXT" | "SAMPLE_VOCAB";

export interface PromptTuningConfigOptions extends PromptLearningConfigOptions {
  /** "RANDOM" (N(0,1)), "TEXT" (embeddings of the tokenized init text) or "SAMPLE_VOCAB" (random vocabulary rows). */
  promptTuningInit?: PromptTuningInit;
  promptTuningInitText?: string | null;
  tokenizerNameOrPath?: string | null;
  tokenizerKwargs?: Record<string, unknown> | null;
}

export class PromptTuningConfig extends PromptLearningConfig {
  declare promptTuningInit: PromptTuningInit;
  declare promptTuningInitText: string | null;
  declare tokenizerNameOrPath: string | null;
  declare tokenizerKwargs: Record<string, unknown> | null;
  constructor(opts: PromptTuningConfigOptions = {}) {
    super("PROMPT_TUNING", { promptTuningInit: "RANDOM", promptTuningInitText: null, tokenizerNameOrPath: null, tokenizerKwargs: null }, opts);
    this.validate();
  }
  override validate(): void {
    super.validate();
    checkOneOf("PromptTuningConfig", "prompt_tuning_init", this.promptTuningInit, ["RANDOM", "TEXT", "SAMPLE_VOCAB"]);
    if (this.promptTuningInit === "TEXT" && !this.promptTuningInitText) throw new ConfigError(`PromptTuningConfig: prompt_tuning_init="TEXT" needs prompt_tuning_init_text`);
  }
}

export interface PrefixTuningConfigOptions extends PromptLearningConfigOptions {
  /** Hidden size of the projection MLP (defaults to token_dim). */
  encoderHiddenSize?: number | null;
  /** Reparameterise the prefix through embedding → Linear → tanh → Linear. */
  prefixProjection?: boolean;
  /**
   * peft-ts only (not in PEFT, off by default): encoder–decoders also get prefixes on the encoder's
   * self-attention. The prefix rows are then twice as wide ([V, num_layers·4·token_dim]: PEFT's decoder
   * part, then the encoder's), and the config holds `encoder_prefix: true`, so PEFT refuses the file.
   */
  encoderPrefix?: boolean;
}

export class PrefixTuningConfig extends PromptLearningConfig {
  declare encoderHiddenSize: number | null;
  declare prefixProjection: boolean;
  declare initWeights: unknown;
  declare encoderPrefix: boolean;
  constructor(opts: PrefixTuningConfigOptions = {}) {
    super("PREFIX_TUNING", { encoderHiddenSize: null, prefixProjection: false, initWeights: null, encoderPrefix: false }, opts);
    this.validate();
  }
  /** `encoder_prefix` is written only when set, so default configs are PEFT's field for field. */
  override fieldNames(): string[] {
    return super.fieldNames().filter((k) => k !== "encoderPrefix" || this.encoderPrefix === true);
  }
  override validate(): void {
    super.validate();
    if (this.initWeights !== null) throw new ConfigError(`PrefixTuningConfig: init_weights=${JSON.stringify(this.initWeights)} is not supported by peft-ts (only null)`);
    if (this.encoderPrefix === true && this.taskType !== "SEQ_2_SEQ_LM") throw new ConfigError(`PrefixTuningConfig: encoder_prefix needs task_type SEQ_2_SEQ_LM (an encoder-decoder model), got ${JSON.stringify(this.taskType)}`);
  }
}

export interface PromptEncoderConfigOptions extends PromptLearningConfigOptions {
  /** Only "MLP" is implemented ("LSTM" is rejected). */
  encoderReparameterizationType?: "MLP" | "LSTM";
  encoderHiddenSize?: number | null;
  encoderNumLayers?: number;
  encoderDropout?: number;
}

/** P-tuning: virtual-token embeddings reparameterised by an MLP. */
export class PromptEncoderConfig extends PromptLearningConfig {
  declare encoderReparameterizationType: "MLP" | "LSTM";
  declare encoderHiddenSize: number | null;
  declare encoderNumLayers: number;
  declare encoderDropout: number;
  protected static override floatFields = ["encoder_dropout"];
  constructor(opts: PromptEncoderConfigOptions = {}) {
    super("P_TUNING", { encoderReparameterizationType: "MLP", encoderHiddenSize: null, encoderNumLayers: 2, encoderDropout: 0.0 }, opts);
    this.validate();
  }
  override validate(): void {
    super.validate();
    checkOneOf("PromptEncoderConfig", "encoder_reparameterization_type", this.encoderReparameterizationType, ["MLP"]);
  }
}
