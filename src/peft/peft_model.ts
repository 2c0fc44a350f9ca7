// PeftModel: a model with adapters. For injectable methods (LoRA, IA3, …) its child `base_model`
// is the method's tuner, whose child `model` is the original model, so parameter names read
// `base_model.model.<HF name>` exactly as in peft. For prompt-learning methods `base_model` is the
// model itself, next to `prompt_encoder.<adapter>` and `word_embeddings` (the model's input
// embeddings), and forward() prepends virtual tokens or prefix keys/values.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Module } from "../nn/module.js";
import { noGrad } from "../tensor/autograd.js";
import { ConfigError, PeftError } from "../tensor/errors.js";
import type { ModelInputs, ModelOutput, PreTrainedModel } from "../models/modeling_utils.js";
import type { GenerateOptions } from "../models/generate.js";
import { PeftConfig, TaskType, loadPeftConfig, savePeftConfig } from "./config.js";
import { getPeftMethod } from "./registry.js";
import { BaseTuner, modelTypeOf } from "./tuner.js";
import { ModulesToSaveWrapper, setTrainableModules } from "./modules_to_save.js";
import { ModuleDict } from "./containers.js";
import {
  StateEntry, adapterDir, checkAdapterName, loadAdapterWeights, readAdapterWeights, saveAdapterWeights,
} from "./save_load.js";
import {
  PromptLearningConfig, PromptModule, createPromptModule, preparePromptLearningConfig, promptForward, promptStateEntries,
} from "./prompt/model.js";
import type { PromptInitOptions } from "./prompt/model.js";
import { LoraModel } from "./lora/model.js";
import { addWeightedAdapter, type CombinationType } from "./lora/weighted.js";
import "./methods.js";

/** Head modules peft adds to modules_to_save per task type. */
const TASK_HEADS: Partial<Record<TaskType, string[]>> = {
  SEQ_CLS: ["classifier", "score"],
  TOKEN_CLS: ["classifier", "score"],
  QUESTION_ANS: ["qa_outputs"],
};

export interface PeftModelOptions extends PromptInitOptions {
  /** Where warnings go (default: process.emitWarning). */
  warn?: (msg: string) => void;
}

/** Set by fromPretrained: the config comes from a file and already lists the task heads. */
const FROM_FILE = Symbol("fromFile");

export interface LoadAdapterOptions {
  /** Load with trainable adapter weights (default false: frozen, inference mode). */
  isTrainable?: boolean;
}

type AnyModel = PreTrainedModel;

export class PeftModel extends Module {
  declare base_model: Module;
  declare prompt_encoder: ModuleDict<PromptModule>;
  declare word_embeddings: Module;
  readonly peftConfig = new Map<string, PeftConfig>();
  activeAdapter: string;
  /** Set while disableAdapter() runs a prompt-learning model without its prompts. */
  private promptDisabled = false;
  private readonly warn: (msg: string) => void;
  private readonly opts: PeftModelOptions;

  constructor(model: AnyModel, config: PeftConfig, adapterName = "default", opts: PeftModelOptions = {}) {
    super();
    checkAdapterName(adapterName);
    this.warn = opts.warn ?? ((m) => process.emitWarning(m, { code: "PEFT" }));
    this.opts = opts;
    this.activeAdapter = adapterName;
    if (config.isPromptLearning) {
      this.registerModule("base_model", model);
      this.registerModule("prompt_encoder", new ModuleDict<PromptModule>());
      this.registerModule("word_embeddings", model.getInputEmbeddings());
    } else {
      const method = getPeftMethod(config.peftType);
      if (!method.createTuner) throw new ConfigError(`${config.peftType} has no tuner`);
      this.registerModule("base_model", method.createTuner(model));
    }
    this.training = model.training;
    this.addAdapter(adapterName, config, { fresh: !(opts as { [FROM_FILE]?: boolean })[FROM_FILE] });
  }

  // ------------------------------------------------------------------ structure

  get isPromptLearning(): boolean {
    return !(this.base_model instanceof BaseTuner);
  }
  /** The tuner (LoraModel, IA3Model, …) or, for prompt learning, the model. */
  get baseModel(): Module {
    return this.base_model;
  }
  private get tuner(): BaseTuner {
    if (!(this.base_model instanceof BaseTuner)) throw new PeftError(`this operation needs an injectable adapter (LoRA, IA3, …), not ${this.activeConfig.peftType}`);
    return this.base_model;
  }
  /** The wrapped transformers-style model (with adapter layers still in place). */
  getBaseModel(): AnyModel {
    return (this.base_model instanceof BaseTuner ? this.base_model.model : this.base_model) as AnyModel;
  }
  /** The wrapped model's config (so a PeftModel can be used wherever a model is, e.g. generate()). */
  get config(): AnyModel["config"] {
    return this.getBaseModel().config;
  }
  get generationConfig(): Partial<GenerateOptions> | undefined {
    return (this.getBaseModel() as unknown as { generationConfig?: Partial<GenerateOptions> }).generationConfig;
  }
  get activeConfig(): PeftConfig {
    return this.peftConfig.get(this.activeAdapter)!;
  }
  get activeAdapters(): string[] {
    return this.base_model instanceof BaseTuner ? this.base_model.activeAdapters.slice() : [this.activeAdapter];
  }

  // ------------------------------------------------------------------ adapters

  /** Adds a new adapter (not activated; call setAdapter). */
  addAdapter(adapterName: string, config: PeftConfig, opts: { fresh?: boolean } = {}): void {
    checkAdapterName(adapterName);
    if (this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' already exists`);
    if (config.isPromptLearning !== this.isPromptLearning) {
      throw new ConfigError(`cannot add a ${config.peftType} adapter to a PeftModel holding ${this.isPromptLearning ? "prompt-learning" : "injected"} adapters`);
    }
    let cfg = config.copy();
    if (cfg.baseModelNameOrPath === null) cfg.baseModelNameOrPath = modelNameOrPath(this.getBaseModel());
    const heads = cfg.taskType ? TASK_HEADS[cfg.taskType] : undefined;
    if (heads && "modulesToSave" in cfg) {
      const spec = cfg as unknown as { modulesToSave: string[] | null };
      // peft extends the list once for tuners and twice for prompt learning (as its files show)
      const times = cfg.isPromptLearning ? 2 : 1;
      for (let i = 0; i < times; i++) {
        if (spec.modulesToSave === null) spec.modulesToSave = heads.slice();
        else if (opts.fresh !== false || !heads.every((h) => spec.modulesToSave!.includes(h))) spec.modulesToSave.push(...heads);
      }
    }
    const model = this.getBaseModel();
    if (cfg.isPromptLearning) {
      cfg = preparePromptLearningConfig(cfg as PromptLearningConfig, model);
      for (const p of model.parameters()) p.requiresGrad = false;
      this.prompt_encoder.set(adapterName, createPromptModule(cfg as PromptLearningConfig, model, this.opts));
      if (cfg.inferenceMode || adapterName !== this.activeAdapter) for (const p of this.prompt_encoder.get(adapterName).parameters()) p.requiresGrad = false;
    } else {
      cfg = this.tuner.injectAdapter(adapterName, cfg);
    }
    this.peftConfig.set(adapterName, cfg);
    const mts = (cfg as unknown as { modulesToSave?: string[] | null }).modulesToSave;
    if (mts && mts.length) {
      const wrapped = setTrainableModules(model, [...new Set(mts)], adapterName);
      if (cfg.inferenceMode) {
        for (const key of wrapped) {
          const w = model.getSubmodule(key) as ModulesToSaveWrapper;
          w.modules_to_save.get(adapterName)?.requiresGrad_(false);
        }
      }
    }
  }

  /** Activates one adapter (unmerging first if merged). */
  setAdapter(adapterName: string): void {
    if (!this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' not found; available: ${[...this.peftConfig.keys()].join(", ")}`);
    this.activeAdapter = adapterName;
    if (this.base_model instanceof BaseTuner) this.base_model.setAdapter(adapterName);
    else {
      for (const [, w] of this.wrappers()) w.setAdapter(adapterName);
      for (const k of this.prompt_encoder.keys()) {
        const inference = this.peftConfig.get(k)!.inferenceMode;
        for (const p of this.prompt_encoder.get(k).parameters()) p.requiresGrad = k === adapterName && !inference;
      }
    }
  }

  deleteAdapter(adapterName: string): void {
    if (!this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' does not exist; available: ${[...this.peftConfig.keys()].join(", ")}`);
    if (this.base_model instanceof BaseTuner) this.base_model.deleteAdapter(adapterName);
    else {
      this.prompt_encoder.delete(adapterName);
      for (const [, w] of this.wrappers()) w.deleteAdapter(adapterName);
    }
    this.peftConfig.delete(adapterName);
    if (this.activeAdapter === adapterName) {
      const next = [...this.peftConfig.keys()][0];
      if (next) this.setAdapter(next);
    }
  }

  /** Runs fn with every adapter switched off (base model behaviour), then switches them back on. */
  disableAdapter<T>(fn: () => T): T {
    if (this.base_model instanceof BaseTuner) {
      const tuner = this.base_model;
      tuner.enableAdapterLayers(false);
      try {
        return fn();
      } finally {
        tuner.enableAdapterLayers(true);
      }
    }
    this.promptDisabled = true;
    const ws = this.wrappers();
    for (const [, w] of ws) w.disableAdapters = true;
    try {
      return fn();
    } finally {
      this.promptDisabled = false;
      for (const [, w] of ws) w.disableAdapters = false;
    }
  }

  private wrappers(): [string, ModulesToSaveWrapper][] {
    return this.getBaseModel().namedModules().filter((e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper);
  }

  // ------------------------------------------------------------------ forward

  forward(inputs: ModelInputs): ModelOutput {
    if (!this.isPromptLearning) return this.tuner.forward(inputs) as ModelOutput;
    if (this.promptDisabled) return this.getBaseModel().forward(inputs);
    return promptForward(this, inputs);
  }

  // ------------------------------------------------------------------ merging

  mergeAdapter(opts: { adapterNames?: string[]; safeMerge?: boolean } = {}): void {
    this.tuner.mergeAdapter(opts);
  }
  unmergeAdapter(): void {
    this.tuner.unmergeAdapter();
  }
  /** Merges the active adapters into the base weights and returns the plain model (this PeftModel is spent). */
  mergeAndUnload(opts: { adapterNames?: string[]; safeMerge?: boolean } = {}): AnyModel {
    return this.tuner.unloadAndOptionallyMerge(true, opts) as AnyModel;
  }
  /** Removes every adapter layer without merging and returns the plain model. */
  unload(): AnyModel {
    return this.tuner.unloadAndOptionallyMerge(false) as AnyModel;
  }

  // ------------------------------------------------------------------ counting

  /** [trainable, all] parameter counts (shared tensors counted once), as peft. */
  getNbTrainableParameters(): [number, number] {
    let trainable = 0, all = 0;
    for (const [, p] of this.namedParameters()) {
      all += p.size;
      if (p.requiresGrad) trainable += p.size;
    }
    return [trainable, all];
  }
  /** PEFT's line: `trainable params: 1,090 || all params: 23,406 || trainable%: 4.6569`. */
  trainableParametersLine(): string {
    const [t, a] = this.getNbTrainableParameters();
    const fmt = (n: number) => n.toLocaleString("en-US");
    return `trainable params: ${fmt(t)} || all params: ${fmt(a)} || trainable%: ${((100 * t) / a).toFixed(4)}`;
  }
  printTrainableParameters(): void {
    console.log(this.trainableParametersLine());
  }

  // ------------------------------------------------------------------ state

  /** In-memory ↔ saved names of one adapter's tensors (modules_to_save copies included). */
  adapterStateEntries(adapterName: string, forLoad = false): StateEntry[] {
    if (!this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' does not exist`);
    const out: StateEntry[] = [];
    const prefix = this.isPromptLearning ? "base_model" : "base_model.model";
    if (this.base_model instanceof BaseTuner) {
      for (const e of this.base_model.adapterStateEntries(adapterName)) {
        out.push({ memKey: `base_model.${e.memKey}`, savedKey: `base_model.${e.savedKey}`, tensor: e.tensor });
      }
    } else {
      out.push(...promptStateEntries(this, adapterName, forLoad));
    }
    for (const [key, w] of this.wrappers()) {
      if (!w.modules_to_save.has(adapterName)) continue;
      for (const [n, t] of w.modules_to_save.get(adapterName).namedParameters()) {
        out.push({ memKey: `${prefix}.${key}.modules_to_save.${adapterName}.${n}`, savedKey: `${prefix}.${key}.${n}`, tensor: t });
      }
    }
    return out;
  }

  /**
   * Writes adapter_config.json + adapter_model.safetensors per adapter: the default adapter into
   * `dir`, others into `dir/<name>`.
   */
  async savePretrained(dir: string, opts: { selectedAdapters?: string[] } = {}): Promise<void> {
    const names = opts.selectedAdapters ?? [...this.peftConfig.keys()];
    for (const name of names) {
      if (!this.peftConfig.has(name)) throw new PeftError(`savePretrained: adapter '${name}' does not exist; available: ${[...this.peftConfig.keys()].join(", ")}`);
      const out = adapterDir(dir, name);
      mkdirSync(out, { recursive: true });
      saveAdapterWeights(out, noGrad(() => this.adapterStateEntries(name)));
      const cfg = this.peftConfig.get(name)!.copy({ inferenceMode: true });
      if (cfg.taskType === null && cfg.autoMapping === null) {
        const model = this.getBaseModel();
        const mt = modelTypeOf(model);
        cfg.autoMapping = { base_model_class: model.constructor.name, parent_library: mt ? `transformers.models.${mt}.modeling_${mt}` : null };
      }
      savePeftConfig(cfg, out);
    }
  }

  /** Loads an adapter folder as a new adapter `adapterName` (frozen unless isTrainable). */
  loadAdapter(dir: string, adapterName: string, opts: LoadAdapterOptions = {}): void {
    checkAdapterName(adapterName);
    const cfg = loadPeftConfig(dir, this.warn);
    cfg.inferenceMode = !opts.isTrainable;
    const tensors = readAdapterWeights(dir);
    this.addAdapter(adapterName, cfg, { fresh: false });
    try {
      loadAdapterWeights(this.adapterStateEntries(adapterName, true), tensors, dir, this.warn);
    } catch (e) {
      this.deleteAdapter(adapterName);
      throw e;
    }
    if (!opts.isTrainable) this.eval();
  }

  /** Wraps `model` with the adapter saved in `dir` (frozen unless isTrainable). */
  static async fromPretrained(
    model: AnyModel, dir: string,
    opts: LoadAdapterOptions & PeftModelOptions & { adapterName?: string } = {},
  ): Promise<PeftModel> {
    const adapterName = opts.adapterName ?? "default";
    const cfg = loadPeftConfig(dir, opts.warn);
    cfg.inferenceMode = !opts.isTrainable;
    const tensors = readAdapterWeights(dir);
    const pm = new PeftModel(model, cfg, adapterName, { ...opts, [FROM_FILE]: true } as PeftModelOptions);
    (pm.peftConfig.get(adapterName)! as PeftConfig).baseModelNameOrPath = cfg.baseModelNameOrPath;
    loadAdapterWeights(pm.adapterStateEntries(adapterName, true), tensors, dir, opts.warn ?? ((m) => process.emitWarning(m, { code: "PEFT" })));
    if (!opts.isTrainable) pm.eval();
    return pm;
  }

  /**
   * Combines LoRA adapters into a new adapter `adapterName` (peft's add_weighted_adapter; see
   * lora/weighted.ts for the math). The new adapter is added, not activated.
   */
  addWeightedAdapter(adapters: string[], weights: number[], adapterName: string, combinationType: CombinationType = "svd", svdRank?: number): void {
    checkAdapterName(adapterName);
    if (this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' already exists`);
    const tuner = this.tuner;
    if (!(tuner instanceof LoraModel)) throw new PeftError(`addWeightedAdapter works on LoRA adapters, not ${this.activeConfig.peftType}`);
    for (const a of adapters) {
      const mts = (this.peftConfig.get(a) as unknown as { modulesToSave?: string[] | null } | undefined)?.modulesToSave;
      if (mts && mts.length) throw new PeftError(`addWeightedAdapter: adapter '${a}' has modules_to_save (${mts.join(", ")}); peft cannot combine those`);
    }
    this.peftConfig.set(adapterName, addWeightedAdapter(tuner, adapters, weights, adapterName, combinationType, svdRank));
  }

  /** The tuner, for method-specific operations (e.g. LoRA's addWeightedAdapter). */
  getTuner(): BaseTuner {
    return this.tuner;
  }
}

/** The folder a model was loaded from (what peft records as base_model_name_or_path), if known. */
function modelNameOrPath(model: AnyModel): string | null {
  const src = (model.config as unknown as { source?: unknown }).source;
  if (typeof src !== "string" || !src.endsWith("config.json")) return null;
  return dirname(src);
}

/** Wraps `model` with a new adapter (peft's get_peft_model). */
export function getPeftModel(model: AnyModel, config: PeftConfig, adapterName = "default", opts: PeftModelOptions = {}): PeftModel {
  return new PeftModel(model, config, adapterName, opts);
}
