// The adapter host of prompt learning: the PeftModel's `base_model` is the model itself, next to
// `prompt_encoder.<adapter>` (the prompt modules) and `word_embeddings` (the model's input
// embeddings), and forward() prepends virtual tokens or hands every layer prefix keys/values.

import type { Module } from "../../nn/module.js";
import type { IdsLike, ModelInputs, ModelOutput, PreTrainedModel } from "../../models/modeling_utils.js";
import type { Tensor } from "../../tensor/tensor.js";
import { isEncoderDecoder, type EncoderDecoderLM, type Seq2SeqInputs } from "../../models/seq2seq.js";
import type { PeftConfig } from "../config.js";
import { ModuleDict } from "../containers.js";
import { modulesToSaveWrappers } from "../modules_to_save.js";
import type { StateEntry } from "../save_load.js";
import type { AdapterHost, AdapterHostContext } from "../adapter_host.js";
import {
  PromptInitOptions, PromptLearningConfig, PromptModule, createPromptModule, preparePromptLearningConfig, promptForward, promptStateEntries,
} from "./model.js";
import { encodeWithPrompts, promptForwardSeq2Seq } from "./seq2seq.js";

type Seq2SeqModel = PreTrainedModel & EncoderDecoderLM;

declare module "../adapter_host.js" {
  // getPeftModel(model, promptTuningConfig, name, { tokenizer }) for prompt_tuning_init="TEXT"
  // eslint-disable-next-line @typescript-eslint/no-empty-interface
  interface MethodOptions extends PromptInitOptions {}
}

export class PromptHost implements AdapterHost {
  readonly isPromptLearning = true;
  readonly tuner = null;
  readonly modelPrefix = "base_model";
  readonly taskHeadPasses = 2;
  readonly promptEncoder = new ModuleDict<PromptModule>();
  readonly wordEmbeddings: Module;
  /** Set while withAdaptersDisabled runs the model without its prompts. */
  private disabled = false;

  constructor(readonly model: PreTrainedModel, private readonly ctx: AdapterHostContext) {
    this.wordEmbeddings = model.getInputEmbeddings();
  }

  attach(owner: Module): void {
    owner.registerModule("base_model", this.model);
    owner.registerModule("prompt_encoder", this.promptEncoder);
    owner.registerModule("word_embeddings", this.wordEmbeddings);
  }
  activeAdapters(): string[] {
    return [this.ctx.activeAdapter()];
  }
  private config(name: string): PromptLearningConfig {
    return this.ctx.configs.get(name) as PromptLearningConfig;
  }

  addAdapter(name: string, config: PeftConfig): PeftConfig {
    const cfg = preparePromptLearningConfig(config as PromptLearningConfig, this.model);
    for (const p of this.model.parameters()) p.requiresGrad = false;
    const m = createPromptModule(cfg, this.model, this.ctx.options as PromptInitOptions);
    this.promptEncoder.set(name, m);
    if (cfg.inferenceMode || name !== this.ctx.activeAdapter()) for (const p of m.parameters()) p.requiresGrad = false;
    return cfg;
  }
  setAdapter(name: string): void {
    for (const [, w] of modulesToSaveWrappers(this.model)) w.setAdapter(name);
    for (const k of this.promptEncoder.keys()) {
      const inference = this.config(k).inferenceMode;
      for (const p of this.promptEncoder.get(k).parameters()) p.requiresGrad = k === name && !inference;
    }
  }
  deleteAdapter(name: string): void {
    this.promptEncoder.delete(name);
    for (const [, w] of modulesToSaveWrappers(this.model)) w.deleteAdapter(name);
  }
  withAdaptersDisabled<T>(fn: () => T): T {
    this.disabled = true;
    const ws = modulesToSaveWrappers(this.model);
    for (const [, w] of ws) w.disableAdapters = true;
    try {
      return fn();
    } finally {
      this.disabled = false;
      for (const [, w] of ws) w.disableAdapters = false;
    }
  }
  forward(inputs: ModelInputs): ModelOutput {
    if (this.disabled) return this.model.forward(inputs);
    const name = this.ctx.activeAdapter();
    if (isEncoderDecoder(this.model)) {
      return promptForwardSeq2Seq(this.config(name), this.promptEncoder.get(name), this.model as Seq2SeqModel, this.wordEmbeddings, inputs as Seq2SeqInputs);
    }
    return promptForward(this.config(name), this.promptEncoder.get(name), this.model, this.wordEmbeddings, inputs);
  }
  /** The encoder output with the active adapter's virtual tokens (or encoder prefixes): what generate() reuses. */
  encode(inputs: { inputIds: IdsLike; attentionMask?: IdsLike }): Tensor {
    const m = this.model as Seq2SeqModel;
    if (this.disabled) return m.encode(inputs);
    const name = this.ctx.activeAdapter();
    return encodeWithPrompts(this.config(name), this.promptEncoder.get(name), m, this.wordEmbeddings, inputs);
  }
  stateEntries(name: string, forLoad: boolean): StateEntry[] {
    return promptStateEntries(this.config(name), this.promptEncoder.get(name), name, forLoad);
  }
}

export function createPromptHost(model: PreTrainedModel, ctx: AdapterHostContext): AdapterHost {
  return new PromptHost(model, ctx);
}

/** The prompt modules of a prompt-learning PeftModel, by adapter name (its `prompt_encoder` child). */
export function promptEncoderOf(peftModel: Module): ModuleDict<PromptModule> {
  return peftModel.getSubmodule("prompt_encoder") as ModuleDict<PromptModule>;
}
