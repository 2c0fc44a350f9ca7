// The adapter host of injectable methods: the PeftModel's `base_model` is the method's tuner
// (LoraModel, IA3Model, …), whose child `model` is the original model, so parameter names read
// `base_model.model.<HF name>` as in peft. createAdapterHost picks a method's host.

import type { Module } from "../nn/module.js";
import { ConfigError } from "../tensor/errors.js";
import type { ModelInputs, ModelOutput, PreTrainedModel } from "../models/modeling_utils.js";
import type { PeftConfig } from "./config.js";
import type { PeftMethod } from "./registry.js";
import type { BaseTuner } from "./tuner.js";
import type { StateEntry } from "./save_load.js";
import type { AdapterHost, AdapterHostContext } from "./adapter_host.js";

export class TunerHost implements AdapterHost {
  readonly isPromptLearning = false;
  readonly modelPrefix = "base_model.model";
  readonly taskHeadPasses = 1;
  constructor(readonly tuner: BaseTuner) {}

  get model(): PreTrainedModel {
    return this.tuner.model as PreTrainedModel;
  }
  attach(owner: Module): void {
    owner.registerModule("base_model", this.tuner);
  }
  activeAdapters(): string[] {
    return this.tuner.activeAdapters.slice();
  }
  addAdapter(name: string, config: PeftConfig): PeftConfig {
    return this.tuner.injectAdapter(name, config);
  }
  setAdapter(name: string): void {
    this.tuner.setAdapter(name);
  }
  deleteAdapter(name: string): void {
    this.tuner.deleteAdapter(name);
  }
  withAdaptersDisabled<T>(fn: () => T): T {
    this.tuner.enableAdapterLayers(false);
    try {
      return fn();
    } finally {
      this.tuner.enableAdapterLayers(true);
    }
  }
  forward(inputs: ModelInputs): ModelOutput {
    return this.tuner.forward(inputs) as ModelOutput;
  }
  stateEntries(name: string): StateEntry[] {
    return this.tuner.adapterStateEntries(name).map((e) => ({ memKey: `base_model.${e.memKey}`, savedKey: `base_model.${e.savedKey}`, tensor: e.tensor }));
  }
}

/** The host a PeftModel uses for `method`'s adapters: its own, or a TunerHost around its tuner. */
export function createAdapterHost(method: PeftMethod, model: PreTrainedModel, ctx: AdapterHostContext): AdapterHost {
  if (method.createHost) return method.createHost(model, ctx);
  if (!method.createTuner) throw new ConfigError(`${method.peftType} has no tuner`);
  return new TunerHost(method.createTuner(model));
}
