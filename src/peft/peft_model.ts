// PeftModel: a model with adapters. How the adapters are held comes from the method's adapter
// host (adapter_host.ts): for injectable methods (LoRA, IA3, …) `base_model` is the method's
// tuner, whose child `model` is the original model, so parameter names read
// `base_model.model.<HF name>` exactly as in peft; prompt-learning methods bring their own host
// (`base_model` is the model itself, next to `prompt_encoder.<adapter>` and `word_embeddings`).
// What every method shares — configs, task heads, modules_to_save, saving and loading — is here.

import type { QuantMergeError, QuantMergeMode } from "./quant_merge.js";
import { emitWarning } from "../platform/env.js";
import { getFiles } from "../platform/files.js";
import { dirname } from "../platform/paths.js";
import { Module } from "../nn/module.js";
import { noGrad } from "../tensor/autograd.js";
import { ConfigError, PeftError } from "../tensor/errors.js";
import type { ModelInputs, ModelOutput, PreTrainedModel } from "../models/modeling_utils.js";
import type { GenerateOptions } from "../models/generate.js";
import { PeftConfig, TaskType, loadPeftConfig, savePeftConfig } from "./config.js";
import { getPeftMethod, type CombinationType } from "./registry.js";
import { type BaseTuner, modelTypeOf } from "./tuner.js";
import { ModulesToSaveWrapper, modulesToSaveWrappers, setTrainableModules } from "./modules_to_save.js";
import {
  StateEntry, adapterDir, checkAdapterName, loadAdapterWeights, readAdapterWeights, saveAdapterWeights,
} from "./save_load.js";
import type { AdapterHost, MethodOptions } from "./adapter_host.js";
import { createAdapterHost } from "./tuner_host.js";
import "./methods.js";
import { checkTensorParallelPeft, gatherAdapterEntries, sliceAdapterTensors } from "./tp.js";
import { tensorParallelGroupOf } from "../nn/parallel/index.js";
import { isEncoderDecoder, type EncoderDecoderLM } from "../models/seq2seq.js";
import type { Tensor } from "../tensor/tensor.js";
import type { IdsLike } from "../models/modeling_utils.js";
import { checkTaskFitsModel } from "./task_type_check.js";

/** Head modules peft adds to modules_to_save per task type. */
const TASK_HEADS: Partial<Record<TaskType, string[]>> = {
  SEQ_CLS: ["classifier", "score"],
  TOKEN_CLS: ["classifier", "score"],
  QUESTION_ANS: ["qa_outputs"],
};

/** Options of getPeftModel: warnings, plus what the methods read (MethodOptions, e.g. prompt tuning's tokenizer). */
export interface PeftModelOptions extends MethodOptions {
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
  readonly peftConfig = new Map<string, PeftConfig>();
  activeAdapter: string;
  private readonly host: AdapterHost;
  private readonly warn: (msg: string) => void;

  constructor(model: AnyModel, config: PeftConfig, adapterName = "default", opts: PeftModelOptions = {}) {
    super();
    checkAdapterName(adapterName);
    this.warn = opts.warn ?? ((m) => emitWarning(m, "PEFT"));
    this.activeAdapter = adapterName;
    checkTensorParallelPeft(model, config);
    checkTaskFitsModel(config, model);
    this.host = createAdapterHost(getPeftMethod(config.peftType), model, {
      configs: this.peftConfig, activeAdapter: () => this.activeAdapter, options: opts,
    });
    this.host.attach(this);
    this.training = model.training;
    this.addAdapter(adapterName, config, { fresh: !(opts as { [FROM_FILE]?: boolean })[FROM_FILE] });
  }

  // ------------------------------------------------------------------ structure

  /** True for prompt-learning adapters (virtual tokens / prefixes; nothing to merge). */
  get isPromptLearning(): boolean {
    return this.host.isPromptLearning;
  }
  /** The tuner (LoraModel, IA3Model, …) or, for prompt learning, the model. */
  get baseModel(): Module {
    return this.base_model;
  }
  private get tuner(): BaseTuner {
    if (!this.host.tuner) throw new PeftError(`this operation needs an injectable adapter (LoRA, IA3, …), not ${this.activeConfig.peftType}`);
    return this.host.tuner;
  }
  /** The wrapped transformers-style model (with adapter layers still in place). */
  getBaseModel(): AnyModel {
    return this.host.model;
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
    return this.host.activeAdapters();
  }

  // ------------------------------------------------------------------ adapters

  /** Adds a new adapter (not activated; call setAdapter). */
  addAdapter(adapterName: string, config: PeftConfig, opts: { fresh?: boolean } = {}): void {
    checkAdapterName(adapterName);
    if (this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' already exists`);
    if (config.isPromptLearning !== this.isPromptLearning) {
      throw new ConfigError(`cannot add a ${config.peftType} adapter to a PeftModel holding ${this.isPromptLearning ? "prompt-learning" : "injected"} adapters`);
    }
    checkTensorParallelPeft(this.getBaseModel(), config);
    checkTaskFitsModel(config, this.getBaseModel());
    let cfg: PeftConfig = config.copy();
    if (cfg.baseModelNameOrPath === null) cfg.baseModelNameOrPath = modelNameOrPath(this.getBaseModel());
    const heads = cfg.taskType ? TASK_HEADS[cfg.taskType] : undefined;
    if (heads && "modulesToSave" in cfg) {
      const spec = cfg as unknown as { modulesToSave: string[] | null };
      // peft extends the list once for tuners and twice for prompt learning (as its files show)
      for (let i = 0; i < this.host.taskHeadPasses; i++) {
        if (spec.modulesToSave === null) spec.modulesToSave = heads.slice();
        else if (opts.fresh !== false || !heads.every((h) => spec.modulesToSave!.includes(h))) spec.modulesToSave.push(...heads);
      }
    }
    const model = this.getBaseModel();
    cfg = this.host.addAdapter(adapterName, cfg);
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
    this.host.setAdapter(adapterName);
  }

  deleteAdapter(adapterName: string): void {
    if (!this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' does not exist; available: ${[...this.peftConfig.keys()].join(", ")}`);
    this.host.deleteAdapter(adapterName);
    this.peftConfig.delete(adapterName);
    if (this.activeAdapter === adapterName) {
      const next = [...this.peftConfig.keys()][0];
      if (next) this.setAdapter(next);
    }
  }

  /** Runs fn with every adapter switched off (base model behaviour), then switches them back on. */
  disableAdapter<T>(fn: () => T): T {
    return this.host.withAdaptersDisabled(fn);
  }

  // ------------------------------------------------------------------ forward

  forward(inputs: ModelInputs): ModelOutput {
    return this.host.forward(inputs);
  }
  /** True when the wrapped model is an encoder-decoder: generate() then runs it as one. */
  get isEncoderDecoder(): boolean {
    return isEncoderDecoder(this.getBaseModel());
  }
  /** The wrapped encoder-decoder's encoder output (adapters in the encoder applied, virtual tokens prepended). */
  encode(inputs: { inputIds: IdsLike; attentionMask?: IdsLike }): Tensor {
    const m = this.getBaseModel() as unknown as EncoderDecoderLM;
    if (!isEncoderDecoder(m)) throw new PeftError(`encode: ${this.getBaseModel().architectureName} is not an encoder-decoder model`);
    return this.host.encode ? this.host.encode(inputs) : m.encode(inputs);
  }

  // ------------------------------------------------------------------ merging

  mergeAdapter(opts: { adapterNames?: string[]; safeMerge?: boolean } = {}): void {
    this.tuner.mergeAdapter(opts);
  }
  unmergeAdapter(): void {
    this.tuner.unmergeAdapter();
  }
  /**
   * Merges the active adapters into the base weights and returns the plain model (this PeftModel is
   * spent). On a quantised base (QuantLinear layers) `quantized` picks a full-precision result
   * ("dequantize", default) or a re-quantised one ("requantize"); the re-quantisation error per
   * module is then in quantMergeReport (see peft/quant_merge.ts).
   */
  mergeAndUnload(opts: { adapterNames?: string[]; safeMerge?: boolean; quantized?: QuantMergeMode } = {}): AnyModel {
    return this.tuner.unloadAndOptionallyMerge(true, opts) as AnyModel;
  }
  /** Re-quantisation errors of the last mergeAndUnload into a quantised base (empty for a full-precision base). */
  get quantMergeReport(): QuantMergeError[] {
    return this.tuner.lastQuantMergeReport;
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
    const out = this.host.stateEntries(adapterName, forLoad);
    const prefix = this.host.modelPrefix;
    for (const [key, w] of modulesToSaveWrappers(this.getBaseModel())) {
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
    // tensor parallelism: every rank calls this; the shards are gathered and rank 0 writes the full files
    const tp = tensorParallelGroupOf(this);
    for (const name of names) {
      if (!this.peftConfig.has(name)) throw new PeftError(`savePretrained: adapter '${name}' does not exist; available: ${[...this.peftConfig.keys()].join(", ")}`);
      let entries = noGrad(() => this.adapterStateEntries(name));
      if (tp) entries = gatherAdapterEntries(entries);
      if (tp && tp.rank !== 0) continue;
      const out = adapterDir(dir, name);
      getFiles().mkdir(out);
      saveAdapterWeights(out, entries);
      const cfg = this.peftConfig.get(name)!.copy({ inferenceMode: true });
      if (cfg.taskType === null && cfg.autoMapping === null) {
        const model = this.getBaseModel();
        const mt = modelTypeOf(model);
        cfg.autoMapping = { base_model_class: model.constructor.name, parent_library: mt ? `transformers.models.${mt}.modeling_${mt}` : null };
      }
      savePeftConfig(cfg, out);
    }
    tp?.barrier(); // the files exist once any rank returns
  }

  /** Loads an adapter folder as a new adapter `adapterName` (frozen unless isTrainable). */
  loadAdapter(dir: string, adapterName: string, opts: LoadAdapterOptions = {}): void {
    checkAdapterName(adapterName);
    const cfg = loadPeftConfig(dir, this.warn);
    cfg.inferenceMode = !opts.isTrainable;
    const tensors = readAdapterWeights(dir);
    this.addAdapter(adapterName, cfg, { fresh: false });
    try {
      const entries = this.adapterStateEntries(adapterName, true);
      loadAdapterWeights(entries, sliceAdapterTensors(entries, tensors), dir, this.warn);
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
    const entries = pm.adapterStateEntries(adapterName, true);
    loadAdapterWeights(entries, sliceAdapterTensors(entries, tensors), dir, opts.warn ?? ((m) => emitWarning(m, "PEFT")));
    if (!opts.isTrainable) pm.eval();
    return pm;
  }

  /**
   * Combines LoRA adapters into a new adapter `adapterName` (peft's add_weighted_adapter; the
   * method's capabilities.addWeightedAdapter, lora/weighted.ts for the math). The new adapter is
   * added, not activated.
   */
  addWeightedAdapter(adapters: string[], weights: number[], adapterName: string, combinationType: CombinationType = "svd", svdRank?: number): void {
    checkAdapterName(adapterName);
    if (this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' already exists`);
    const tuner = this.tuner;
    const combine = getPeftMethod(this.activeConfig.peftType).capabilities?.addWeightedAdapter;
    if (!combine) throw new PeftError(`addWeightedAdapter works on LoRA adapters, not ${this.activeConfig.peftType}`);
    for (const a of adapters) {
      const mts = (this.peftConfig.get(a) as unknown as { modulesToSave?: string[] | null } | undefined)?.modulesToSave;
      if (mts && mts.length) throw new PeftError(`addWeightedAdapter: adapter '${a}' has modules_to_save (${mts.join(", ")}); peft cannot combine those`);
    }
    this.peftConfig.set(adapterName, combine(tuner, adapters, weights, adapterName, combinationType, svdRank));
  }

  /** The Trainer's per-step hook (after the optimizer step, before the gradients are cleared): the tuner's, if any. */
  onOptimizerStep(globalStep: number): void {
    this.host.tuner?.onOptimizerStep(globalStep);
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
