// modules_to_save: whole modules (typically the classification head) trained and saved next to the
// adapter. The wrapper keeps the frozen original (`original_module`) and one trainable copy per
// adapter (`modules_to_save.<adapter>`), so in-memory names are `classifier.modules_to_save.default.weight`.

import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { ModuleDict, callForward, cloneModule } from "./containers.js";
import { BaseTunerLayer } from "./tuner_layer.js";

export class ModulesToSaveWrapper extends Module {
  declare original_module: Module;
  declare modules_to_save: ModuleDict;
  activeAdapter: string;
  disableAdapters = false;

  constructor(original: Module, adapterName: string) {
    super();
    this.registerModule("original_module", original);
    this.registerModule("modules_to_save", new ModuleDict());
    this.activeAdapter = adapterName;
    this.update(adapterName);
  }
  /** Adds a trainable copy of the original module for `adapterName`. */
  update(adapterName: string): void {
    if (!this.modules_to_save.has(adapterName)) {
      const copy = cloneModule(this.original_module);
      // frozen weights may be stored in bf16/f16; the trainable copy computes in f32
      for (const [n, p] of copy.namedParameters()) if (p.dtype !== "f32") copy.setParameter(n, p.to("f32"));
      copy.requiresGrad_(true);
      this.modules_to_save.set(adapterName, copy);
    }
    this.original_module.requiresGrad_(false);
    this.setAdapter(this.activeAdapter);
  }
  /** The module forward() uses now. */
  activeModule(): Module {
    if (this.disableAdapters || !this.modules_to_save.has(this.activeAdapter)) return this.original_module;
    return this.modules_to_save.get(this.activeAdapter);
  }
  setAdapter(adapterName: string): void {
    this.activeAdapter = adapterName;
    for (const k of this.modules_to_save.keys()) this.modules_to_save.get(k).requiresGrad_(k === adapterName);
  }
  deleteAdapter(adapterName: string): void {
    if (this.modules_to_save.has(adapterName)) this.modules_to_save.delete(adapterName);
    if (this.activeAdapter === adapterName) this.activeAdapter = this.modules_to_save.keys()[0] ?? adapterName;
  }
  /** The original module's weight (models read head weights through this, e.g. tied embeddings). */
  get weight(): Tensor | null {
    return (this.activeModule() as unknown as { weight?: Tensor }).weight ?? null;
  }
  get bias(): Tensor | null {
    return (this.activeModule() as unknown as { bias?: Tensor }).bias ?? null;
  }
  forward(...args: unknown[]): unknown {
    return callForward<unknown>(this.activeModule(), ...args);
  }
}

/**
 * Module keys wrapped for a modules_to_save entry. PEFT's _set_trainable matches with a plain
 * `key.endswith(name)`, no dot required: "classifier" also wraps DistilBERT's `pre_classifier`.
 */
export function matchesModuleToSave(key: string, names: readonly string[]): boolean {
  return names.some((n) => key.endsWith(n));
}

/**
 * Keys a tuner must not adapt because a modules_to_save entry names one of their segments
 * (PEFT's check_target_module_exists: re.match(rf"(^|.*\.){m}($|\..*)", key), the entry used as a regex).
 */
export function isInsideModuleToSave(key: string, names: readonly string[] | null | undefined): boolean {
  if (!names) return false;
  return names.some((m) => compileOrThrow(`^(?:(?:^|.*\\.)${m}(?:$|\\..*))`, "modules_to_save", m).test(key));
}

/** A RegExp built from a config value, or a ConfigError naming the field. */
export function compileOrThrow(source: string, field: string, value: string): RegExp {
  try {
    return new RegExp(source);
  } catch (e) {
    throw new ConfigError(`invalid regular expression ${JSON.stringify(value)} in ${field}: ${(e as Error).message}`);
  }
}

/**
 * Wraps every module of `root` named in `names` (the wrapper's own subtree excluded), or adds a
 * copy for `adapterName` to an existing wrapper. Returns the keys wrapped. A module that is (or sits
 * inside) a tuner layer cannot be wrapped: ConfigError (PEFT fails there too).
 */
export function setTrainableModules(root: Module, names: readonly string[], adapterName: string): string[] {
  const done: string[] = [];
  const keys = root.namedModules().map(([k]) => k);
  const inside: string[] = [];
  const tunerLayers = root.namedModules().filter(([, m]) => m instanceof BaseTunerLayer).map(([k]) => k);
  for (const key of keys) {
    if (!key || inside.some((p) => key.startsWith(p + "."))) continue;
    if (!matchesModuleToSave(key, names)) continue;
    const target = root.getSubmodule(key);
    const layer = tunerLayers.find((p) => key === p || key.startsWith(p + "."));
    if (layer !== undefined) {
      throw new ConfigError(
        `modules_to_save ${JSON.stringify(names)} matches '${key}', which is ${key === layer ? "an adapter layer" : `inside the adapter layer '${layer}'`} ` +
          `(${target.constructor.name}); a module cannot be both adapted and saved whole: remove it from target_modules or modules_to_save`,
      );
    }
    if (target instanceof ModulesToSaveWrapper) {
      target.update(adapterName);
    } else {
      root.setSubmodule(key, new ModulesToSaveWrapper(target, adapterName));
    }
    inside.push(key);
    done.push(key);
  }
  return done;
}

/** Every ModulesToSaveWrapper below `root`, with its key. */
export function modulesToSaveWrappers(root: Module): [string, ModulesToSaveWrapper][] {
  return root.namedModules().filter((e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper);
}
