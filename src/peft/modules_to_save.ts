// modules_to_save: whole modules (typically the classification head) trained and saved next to the
// adapter. The wrapper keeps the frozen original (`original_module`) and one trainable copy per
// adapter (`modules_to_save.<adapter>`), so in-memory names are `classifier.modules_to_save.default.weight`.

import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { ModuleDict, callForward, cloneModule } from "./containers.js";

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

/** Module keys matching a modules_to_save entry (exact or `.name` suffix). */
export function matchesModuleToSave(key: string, names: readonly string[]): boolean {
  return names.some((n) => key === n || key.endsWith("." + n));
}

/**
 * Wraps every module of `root` named in `names` (the wrapper's own subtree excluded), or adds a
 * copy for `adapterName` to an existing wrapper. Returns the keys wrapped.
 */
export function setTrainableModules(root: Module, names: readonly string[], adapterName: string): string[] {
  const done: string[] = [];
  const keys = root.namedModules().map(([k]) => k);
  const inside: string[] = [];
  for (const key of keys) {
    if (!key || inside.some((p) => key.startsWith(p + "."))) continue;
    if (!matchesModuleToSave(key, names)) continue;
    const target = root.getSubmodule(key);
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
