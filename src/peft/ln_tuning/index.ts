// LayerNorm tuning (LN_TUNING, Zhao et al. 2023): each target norm layer gets a trainable copy per
// adapter (`ln_tuning_layers.<adapter>`) used instead of the frozen original; merging swaps the copy in.

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { PeftError } from "../../tensor/errors.js";
import { PeftConfig, PeftConfigOptions, checkTargetSpec } from "../config.js";
import { registerPeftMethod } from "../registry.js";
import { MODULES_TO_SAVE, TARGET_MODULES } from "../cli.js";
import { ModuleDict, callForward, cloneModule, layerKind } from "../containers.js";
import { BaseTunerLayer, LayerContext } from "../tuner_layer.js";
import { BaseTuner } from "../tuner.js";

export interface LNTuningConfigOptions extends PeftConfigOptions {
  targetModules?: string | string[] | null;
  excludeModules?: string | string[] | null;
  modulesToSave?: string[] | null;
}

export class LNTuningConfig extends PeftConfig {
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare modulesToSave: string[] | null;
  constructor(opts: LNTuningConfigOptions = {}) {
    super("LN_TUNING", { targetModules: null, excludeModules: null, modulesToSave: null }, opts);
    this.validate();
  }
  override validate(): void {
    checkTargetSpec("target_modules", "LNTuningConfig", this.targetModules);
    checkTargetSpec("exclude_modules", "LNTuningConfig", this.excludeModules);
  }
}

export class LNTuningLayer extends BaseTunerLayer {
  declare ln_tuning_layers: ModuleDict;
  readonly adapterLayerNames = ["ln_tuning_layers"] as const;
  constructor(base: Module) {
    super(base);
    if (layerKind(base) !== "layernorm") throw new PeftError(`LN tuning targets LayerNorm/RMSNorm modules, not ${base.constructor.name}`);
    this.registerModule("ln_tuning_layers", new ModuleDict());
  }
  override updateLayer(adapterName: string, _config: PeftConfig, ctx: LayerContext): void {
    const copy = cloneModule(this.base_layer);
    copy.requiresGrad_(true);
    this.ln_tuning_layers.set(adapterName, copy);
    this.setAdapter(ctx.activeAdapters);
  }
  override setAdapter(names: string | string[]): void {
    const list = typeof names === "string" ? [names] : names;
    if (list.length > 1) throw new PeftError("LN tuning supports one active adapter at a time");
    super.setAdapter(list);
  }
  protected override adapterForward(...args: unknown[]): Tensor {
    const a = this.activeAdapters[0];
    if (a === undefined || !this.ln_tuning_layers.has(a)) return callForward(this.base_layer, ...args);
    return callForward(this.ln_tuning_layers.get(a), ...args);
  }
  /** Merging swaps the tuned copy with the base layer (as peft). */
  protected override mergeOne(adapterName: string): void {
    if (this.mergedAdapters.length) throw new PeftError("LN tuning can merge one adapter at a time");
    this.swap(adapterName);
  }
  protected override unmergeOne(adapterName: string): void {
    this.swap(adapterName);
  }
  private swap(adapterName: string): void {
    const base = this.base_layer;
    this.registerModule("base_layer", this.ln_tuning_layers.get(adapterName));
    this.ln_tuning_layers.set(adapterName, base);
  }
}

export const LN_TUNING_DEFAULT_TARGETS: Record<string, string[]> = {
  bert: ["LayerNorm"],
  roberta: ["LayerNorm"],
  gpt2: ["ln_1", "ln_2", "ln_f"],
  llama: ["input_layernorm", "post_attention_layernorm", "norm"],
  mistral: ["input_layernorm", "post_attention_layernorm", "norm"],
  qwen2: ["input_layernorm", "post_attention_layernorm", "norm"],
};

export class LNTuningModel extends BaseTuner {
  get prefix(): string {
    return "ln_tuning_";
  }
  protected defaultTargetModules(modelType: string | null): string[] | null {
    return modelType ? LN_TUNING_DEFAULT_TARGETS[modelType] ?? null : null;
  }
  protected createAndReplace(cfg: PeftConfig, adapterName: string, target: Module, key: string): void {
    this.updateOrWrap(LNTuningLayer, () => new LNTuningLayer(target), cfg, adapterName, target, { key, activeAdapters: this.activeAdapters });
  }
}

declare module "../registry.js" {
  interface PeftTypes {
    LN_TUNING: LNTuningConfig;
  }
}

registerPeftMethod({
  peftType: "LN_TUNING",
  cliName: "ln_tuning",
  cliFields: [TARGET_MODULES, MODULES_TO_SAVE],
  configFromOptions: (o) => new LNTuningConfig(o),
  createTuner: (m) => new LNTuningModel(m),
});
