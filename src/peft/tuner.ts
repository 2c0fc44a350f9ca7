// BaseTuner: the model-level half of the tuner pattern. It owns the wrapped model (`model`, so a
// PeftModel's names are base_model.model.<HF name>), finds target modules with PEFT's matching
// rules, asks the method to wrap or update them, freezes everything that is not an adapter, and
// implements the generic adapter operations: set/delete/disable, merge/unmerge, merge-and-unload.

import { emitWarning } from "../platform/env.js";
import { Module } from "../nn/module.js";
import { ConfigError, PeftError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { dequantizeModel, requantizeWithError } from "./quant_merge.js";
import type { QuantMergeError, QuantMergeMode } from "./quant_merge.js";
import type { PeftConfig } from "./config.js";
import { ModuleDict, ParameterDict, callForward, layerKind, ownParam } from "./containers.js";
import { ModulesToSaveWrapper, modulesToSaveWrappers } from "./modules_to_save.js";
import { allLinearNames, availableModuleNames, checkLayersToTransform, matchTarget, targetSpec } from "./target_matching.js";
import { BaseTunerLayer, type LayerContext } from "./tuner_layer.js";

export function modelTypeOf(model: Module): string | null {
  const cfg = (model as unknown as { config?: Record<string, unknown> }).config;
  if (!cfg) return null;
  const t = cfg.modelType ?? cfg.model_type;
  return typeof t === "string" ? t : null;
}

/**
 * PEFT's rule when it wraps a layer: fan_in_fan_out follows the layer (true for GPT-2's Conv1D,
 * false for Linear), with a warning, and the adapter's config is changed too, so saved configs
 * say what the layers use (GPT-2 LoRA files have fan_in_fan_out: true).
 */
function alignFanInFanOut(cfg: PeftConfig, target: Module, key: string): void {
  const c = cfg as unknown as { fanInFanOut?: boolean };
  if (typeof c.fanInFanOut !== "boolean") return;
  const kind = layerKind(target);
  if (kind === "conv1d" && !c.fanInFanOut) {
    emitWarning(`fan_in_fan_out is set to False but the target module '${key}' is a Conv1D; setting fan_in_fan_out to True as peft does`);
    c.fanInFanOut = true;
  } else if (kind === "linear" && c.fanInFanOut) {
    emitWarning(`fan_in_fan_out is set to True but the target module '${key}' is a Linear; setting fan_in_fan_out to False as peft does`);
    c.fanInFanOut = false;
  }
}


export abstract class BaseTuner extends Module {
  declare model: Module;
  readonly peftConfig = new Map<string, PeftConfig>();
  activeAdapters: string[] = [];

  /**
   * Called by the Trainer after each optimizer step, before the gradients are cleared, with the
   * 0-based index of that step (peft's training-loop hook; AdaLoRA's rank budgeting). Default: nothing.
   */
  onOptimizerStep(_globalStep: number): void {}

  constructor(model: Module) {
    super();
    this.registerModule("model", model);
  }

  /** Prefix of every adapter parameter name ("lora_", "ia3_", …). */
  abstract get prefix(): string;
  /** Default target modules per model_type (PEFT's TRANSFORMERS_MODELS_TO_*_TARGET_MODULES_MAPPING). */
  protected abstract defaultTargetModules(modelType: string | null): string[] | null;
  /** Wraps `target` (at `key`, relative to the model) or updates an existing tuner layer. */
  protected abstract createAndReplace(cfg: PeftConfig, adapterName: string, target: Module, key: string): void;

  get activeAdapter(): string {
    return this.activeAdapters[0];
  }

  /**
   * The usual createAndReplace: adds the adapter to `target` when it already is one of this
   * method's layers (a `layerClass`), else wraps it in `make()` (keeping its train/eval mode).
   */
  protected updateOrWrap(
    layerClass: abstract new (...args: never[]) => BaseTunerLayer, make: () => BaseTunerLayer,
    cfg: PeftConfig, adapterName: string, target: Module, ctx: LayerContext,
  ): void {
    if (target instanceof layerClass) {
      target.updateLayer(adapterName, cfg, ctx);
      return;
    }
    alignFanInFanOut(cfg, target, ctx.key);
    const layer = make();
    layer.training = target.training;
    layer.updateLayer(adapterName, cfg, ctx);
    this.model.setSubmodule(ctx.key, layer);
  }

  forward(inputs: unknown): unknown {
    return callForward<unknown>(this.model, inputs);
  }

  /** Fills target_modules from the default mapping and expands "all-linear" into module names. */
  prepareAdapterConfig(cfg: PeftConfig): PeftConfig {
    const spec = targetSpec(cfg);
    if (spec.targetModules === null || spec.targetModules === undefined) {
      const mt = modelTypeOf(this.model);
      const def = this.defaultTargetModules(mt);
      if (!def) throw new ConfigError(`${cfg.peftType}: target_modules is not set and there is no default for model_type '${mt}'; pass targetModules`);
      cfg = cfg.copy({ targetModules: def.slice() });
    }
    const tm = targetSpec(cfg).targetModules;
    if ((typeof tm === "string" && tm.toLowerCase() === "all-linear") || (Array.isArray(tm) && tm.length === 1 && tm[0] === "all-linear")) {
      cfg = cfg.copy({ targetModules: allLinearNames(this.model, cfg.taskType) });
    }
    return cfg;
  }

  /** Tuner layers of the model with their keys (relative to the model). */
  tunerLayers(): [string, BaseTunerLayer][] {
    return this.model.namedModules().filter((e): e is [string, BaseTunerLayer] => e[1] instanceof BaseTunerLayer);
  }
  wrappers(): [string, ModulesToSaveWrapper][] {
    return modulesToSaveWrappers(this.model);
  }

  /** Adds adapter `adapterName`: wraps every matching module, then freezes non-adapter weights. */
  injectAdapter(adapterName: string, config: PeftConfig): PeftConfig {
    if (this.peftConfig.has(adapterName)) throw new PeftError(`adapter '${adapterName}' already exists; delete it first or choose another name`);
    const biased = [...this.peftConfig.values(), config].filter((c) => ((c as unknown as { bias?: string }).bias ?? "none") !== "none");
    if (biased.length > 1) {
      throw new ConfigError(`${this.constructor.name} supports only 1 adapter with bias (adding '${adapterName}' with bias=${JSON.stringify((config as unknown as { bias?: string }).bias)}). When using multiple adapters, set bias to 'none' for all adapters.`);
    }
    const cfg = this.prepareAdapterConfig(config);
    const spec = targetSpec(cfg);
    if (this.activeAdapters.length === 0) this.activeAdapters = [adapterName];
    const keys = this.model.namedModules().map(([k]) => k);
    const skip: string[] = [];
    const matched: string[] = [];
    let excluded = 0;
    for (const key of keys) {
      if (!key || skip.some((p) => key.startsWith(p + "."))) continue;
      const mod = this.model.getSubmodule(key);
      if (mod instanceof ModulesToSaveWrapper) {
        skip.push(key);
        continue;
      }
      const hit = matchTarget(spec, key);
      if (hit === "excluded") excluded++;
      if (hit === true) {
        this.createAndReplace(cfg, adapterName, mod, key);
        matched.push(key);
        skip.push(key);
      } else if (mod instanceof BaseTunerLayer) {
        skip.push(key);
      }
    }
    if (matched.length === 0) {
      checkLayersToTransform(spec, keys);
      const what = excluded > 0 ? " (all matches were excluded by exclude_modules or modules_to_save)" : "";
      throw new ConfigError(
        `Target modules ${JSON.stringify(spec.targetModules)} not found in the base model${what}. ` +
          `Available module names: ${availableModuleNames(this.model).join(", ")}`,
      );
    }
    this.peftConfig.set(adapterName, cfg);
    this.markOnlyAdaptersAsTrainable();
    for (const [, layer] of this.tunerLayers()) layer.setAdapter(this.activeAdapters.filter((a) => layer.adapterNames().includes(a)));
    if (cfg.inferenceMode) for (const [, layer] of this.tunerLayers()) for (const p of layer.adapterParameters(adapterName)) p.requiresGrad = false;
    return cfg;
  }

  /** Freezes every parameter whose name does not contain the method prefix. */
  markOnlyAdaptersAsTrainable(): void {
    for (const [n, p] of this.model.namedParameters()) if (!n.includes(this.prefix)) p.requiresGrad = false;
  }

  setAdapter(names: string | string[]): void {
    const list = typeof names === "string" ? [names] : names;
    for (const n of list) if (!this.peftConfig.has(n)) throw new PeftError(`adapter '${n}' not found; available: ${[...this.peftConfig.keys()].join(", ")}`);
    for (const [, layer] of this.tunerLayers()) {
      if (layer.merged) layer.unmerge();
      layer.setAdapter(list.filter((a) => layer.adapterNames().includes(a)));
    }
    for (const [, w] of this.wrappers()) w.setAdapter(list[0]);
    this.activeAdapters = list.slice();
  }

  deleteAdapter(name: string): void {
    if (!this.peftConfig.has(name)) throw new PeftError(`adapter '${name}' does not exist; available: ${[...this.peftConfig.keys()].join(", ")}`);
    this.peftConfig.delete(name);
    for (const [, layer] of this.tunerLayers()) layer.deleteAdapter(name);
    for (const [, w] of this.wrappers()) w.deleteAdapter(name);
    const rest = this.activeAdapters.filter((a) => a !== name);
    this.activeAdapters = rest.length ? rest : [...this.peftConfig.keys()].slice(0, 1);
    if (this.activeAdapters.length) this.setAdapter(this.activeAdapters);
  }

  enableAdapterLayers(enabled = true): void {
    for (const [, layer] of this.tunerLayers()) {
      if (!enabled && layer.merged) layer.unmerge();
      layer.enableAdapters(enabled);
    }
    for (const [, w] of this.wrappers()) w.disableAdapters = !enabled;
  }

  mergeAdapter(opts: { adapterNames?: string[]; safeMerge?: boolean } = {}): void {
    for (const [, layer] of this.tunerLayers()) layer.merge(opts);
  }
  unmergeAdapter(): void {
    for (const [, layer] of this.tunerLayers()) layer.unmerge();
  }

  /** Re-quantisation errors of the last merge into quantised (QuantLinear) base layers, per module. */
  lastQuantMergeReport: QuantMergeError[] = [];

  /**
   * Replaces every tuner layer by its base layer (merging first when `merge`) and every
   * modules_to_save wrapper by its active copy; returns the plain model. A quantised base is merged
   * per opts.quantized (peft/quant_merge.ts): "dequantize" (default) gives a full-precision model,
   * "requantize" keeps the base's format; lastQuantMergeReport holds the errors either way.
   */
  unloadAndOptionallyMerge(merge: boolean, opts: { adapterNames?: string[]; safeMerge?: boolean; quantized?: QuantMergeMode } = {}): Module {
    const mode = opts.quantized ?? "dequantize";
    const report: QuantMergeError[] = [];
    for (const [key, layer] of this.tunerLayers()) {
      const base = layer.getBaseLayer();
      const quant = merge && base instanceof QuantLinear ? base : null;
      if (quant && mode === "dequantize") {
        let inner: BaseTunerLayer = layer;
        while (inner.base_layer instanceof BaseTunerLayer) inner = inner.base_layer;
        inner.registerModule("base_layer", quant.toLinear());
      }
      if (quant) quant.lastRequantError = null;
      if (merge) layer.merge(opts);
      const merged = layer.getBaseLayer();
      if (quant && mode === "dequantize") report.push(requantizeWithError(quant, ownParam(merged, "weight")!.f32(), key).error);
      else if (quant && quant.lastRequantError) report.push({ ...quant.lastRequantError, module: key, format: quant.format });
      this.model.setSubmodule(key, merged);
    }
    if (merge && mode === "dequantize") dequantizeModel(this.model);
    this.lastQuantMergeReport = report;
    for (const [key, w] of this.wrappers()) {
      const m = w.modules_to_save.has(w.activeAdapter) ? w.modules_to_save.get(w.activeAdapter) : w.original_module;
      this.model.setSubmodule(key, m);
    }
    return this.model;
  }

  /**
   * In-memory → saved key pairs of one adapter's tensors (PEFT's get_peft_model_state_dict):
   * `<layer>.lora_A.<adapter>.weight` → `<layer>.lora_A.weight`, `<layer>.ia3_l.<adapter>` →
   * `<layer>.ia3_l`, `lora_magnitude_vector.<adapter>.weight` → `lora_magnitude_vector`.
   * Keys are relative to this tuner (so they start with `model.`).
   */
  adapterStateEntries(adapterName: string): { memKey: string; savedKey: string; tensor: Tensor }[] {
    const out: { memKey: string; savedKey: string; tensor: Tensor }[] = [];
    for (const [lkey, layer] of this.tunerLayers()) {
      for (const [cname, c] of layer.children()) {
        if (!layer.adapterLayerNames.includes(cname)) continue;
        const p = `model.${lkey}.${cname}`;
        if (c instanceof ParameterDict && c.has(adapterName)) {
          out.push({ memKey: `${p}.${adapterName}`, savedKey: p, tensor: c.get(adapterName) });
        } else if (c instanceof ModuleDict && c.has(adapterName)) {
          for (const [n, t] of c.get(adapterName).namedParameters()) {
            const savedKey = cname === "lora_magnitude_vector" && n === "weight" ? p : `${p}.${n}`;
            out.push({ memKey: `${p}.${adapterName}.${n}`, savedKey, tensor: t });
          }
        }
      }
    }
    out.push(...this.extraStateEntries(adapterName));
    return out;
  }
  /** Method-specific extra tensors saved with an adapter (e.g. LoRA biases with bias="all"); keys relative to this tuner. */
  protected extraStateEntries(_adapterName: string): { memKey: string; savedKey: string; tensor: Tensor }[] {
    return [];
  }
}

/** The own weight of a module as [out, in] f32 values (Conv1D transposed), for norms and SVD. */
export function weightOutIn(layer: Module): { data: Float32Array; out: number; in: number } {
  if (layer instanceof QuantLinear) return { data: layer.dequantizedWeight(), out: layer.outFeatures, in: layer.inFeatures };
  const w = ownParam(layer, "weight");
  if (!w || w.ndim !== 2) throw new PeftError(`${layer.constructor.name} has no 2-d weight`);
  if (layerKind(layer) === "conv1d") {
    const t = w.transpose(0, 1).contiguous();
    return { data: Float32Array.from(t.f32()), out: w.shape[1], in: w.shape[0] };
  }
  return { data: Float32Array.from(w.f32()), out: w.shape[0], in: w.shape[1] };
}
