// AdapterHost: how a PeftModel holds the adapters of one family of methods. Injectable methods
// (LoRA, IA3, …) get a TunerHost around their tuner (tuner_host.ts): `base_model` is the tuner.
// Prompt learning brings its own (prompt/host.ts): `base_model` is the model, next to
// `prompt_encoder` and `word_embeddings`. PeftModel keeps what is common (configs, task heads,
// modules_to_save, saving and loading) and asks the host for the rest.

import type { Module } from "../nn/module.js";
import type { IdsLike, ModelInputs, ModelOutput, PreTrainedModel } from "../models/modeling_utils.js";
import type { Tensor } from "../tensor/tensor.js";
import type { PeftConfig } from "./config.js";
import type { StateEntry } from "./save_load.js";
import type { BaseTuner } from "./tuner.js";

/**
 * Options getPeftModel passes to the method (e.g. prompt tuning's tokenizer for a TEXT init).
 * Method folders add theirs by declaration merging:
 * `declare module "../adapter_host.js" { interface MethodOptions extends PromptInitOptions {} }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface MethodOptions {}

/** What a host may read from its PeftModel. */
export interface AdapterHostContext {
  /** The PeftModel's adapter configs, by adapter name (as prepared by the host). */
  readonly configs: ReadonlyMap<string, PeftConfig>;
  /** The PeftModel's active adapter. */
  activeAdapter(): string;
  /** The options given to getPeftModel / new PeftModel. */
  readonly options: MethodOptions;
}

export interface AdapterHost {
  /** True when adapters feed virtual tokens / prefixes instead of injecting layers. */
  readonly isPromptLearning: boolean;
  /** The wrapped transformers model (with adapter layers in place, for tuners). */
  readonly model: PreTrainedModel;
  /** The tuner, for injectable methods; null otherwise. */
  readonly tuner: BaseTuner | null;
  /** Where the model's modules sit in the PeftModel's names ("base_model.model" or "base_model"). */
  readonly modelPrefix: string;
  /** How many times peft extends modules_to_save with the task heads (its files show 2 for prompt learning). */
  readonly taskHeadPasses: number;
  /** Registers the host's children on the PeftModel (`base_model`, …) in their naming order. */
  attach(owner: Module): void;
  activeAdapters(): string[];
  /** Creates adapter `name` from `config`; returns the config as prepared (targets filled in, model sizes read, …). */
  addAdapter(name: string, config: PeftConfig): PeftConfig;
  /** Activates adapter `name` (its weights trainable unless in inference mode). */
  setAdapter(name: string): void;
  deleteAdapter(name: string): void;
  /** Runs fn with every adapter off (base model behaviour), then switches them back on. */
  withAdaptersDisabled<T>(fn: () => T): T;
  forward(inputs: ModelInputs): ModelOutput;
  /** Encoder–decoders: the encoder output with the adapters' effect on it (absent: the model's own encode). */
  encode?(inputs: { inputIds: IdsLike; attentionMask?: IdsLike }): Tensor;
  /** In-memory ↔ saved names of adapter `name`'s own tensors (keys relative to the PeftModel; modules_to_save excluded). */
  stateEntries(name: string, forLoad: boolean): StateEntry[];
}
