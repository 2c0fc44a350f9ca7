// BaseTunerLayer: the layer-level half of the tuner pattern. A tuner layer wraps one base module
// (`base_layer`) and holds one slot per adapter in each container named by `adapterLayerNames`
// (e.g. lora_A.default, lora_B.default). Those names drive freezing, saving and deleting. forward()
// handles disabled and merged adapters (the base layer alone) once; concrete layers implement
// updateLayer / getDeltaWeight / adapterForward, and the weight-delta merge below.

import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { PeftError, ShapeError } from "../tensor/errors.js";
import { ModuleDict, ParameterDict, callForward, layerKind, ownParam } from "./containers.js";
import type { PeftConfig } from "./config.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { addIntoQuantLinear } from "./quant_merge.js";

/** What the tuner knows about the module being adapted. */
export interface LayerContext {
  /** Module name relative to the wrapped model (e.g. "bert.encoder.layer.0.attention.self.query"). */
  key: string;
  /** Adapters that are active on this layer after the update. */
  activeAdapters: string[];
}

export abstract class BaseTunerLayer extends Module {
  declare base_layer: Module;
  /** Containers holding trainable per-adapter parameters. */
  abstract readonly adapterLayerNames: readonly string[];
  /** Per-adapter settings stored as Maps on the layer (r, scaling, …), deleted with the adapter. */
  readonly otherParamNames: readonly string[] = [];
  activeAdapters: string[] = [];
  mergedAdapters: string[] = [];
  disableAdapters = false;

  constructor(base: Module) {
    super();
    this.registerModule("base_layer", base);
  }

  /** The innermost wrapped module. */
  getBaseLayer(): Module {
    let m: Module = this.base_layer;
    while (m instanceof BaseTunerLayer) m = m.base_layer;
    return m;
  }
  /** The base layer's weight (as peft's BaseTunerLayer.weight). */
  get weight(): Tensor | null {
    return ownParam(this.getBaseLayer(), "weight");
  }
  get bias(): Tensor | null {
    return ownParam(this.getBaseLayer(), "bias");
  }
  get merged(): boolean {
    return this.mergedAdapters.length > 0;
  }

  abstract updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext): void;
  /** The output with the active adapters applied (called when they are enabled and not merged). */
  protected abstract adapterForward(...args: unknown[]): Tensor;

  /** The base layer's output while adapters are disabled or merged, else adapterForward. */
  forward(...args: unknown[]): Tensor {
    return this.bypassAdapters() ? callForward<Tensor>(this.base_layer, ...args) : this.adapterForward(...args);
  }
  /** True when the base layer alone gives the output: adapters disabled (unmerging them first) or merged. */
  protected bypassAdapters(): boolean {
    if (this.disableAdapters) {
      if (this.merged) this.unmerge();
      return true;
    }
    return this.merged;
  }

  /** Adapter names present on this layer. */
  adapterNames(): string[] {
    const names = new Set<string>();
    for (const n of this.adapterLayerNames) for (const k of this.container(n)?.keys() ?? []) names.add(k);
    return [...names];
  }
  protected container(name: string): ModuleDict | ParameterDict | null {
    const m = this.children().find(([n]) => n === name)?.[1];
    return m instanceof ModuleDict || m instanceof ParameterDict ? m : null;
  }
  /** Parameters of one adapter on this layer. */
  adapterParameters(adapterName: string): Tensor[] {
    const out: Tensor[] = [];
    for (const n of this.adapterLayerNames) {
      const c = this.container(n);
      if (!c || !c.has(adapterName)) continue;
      if (c instanceof ParameterDict) out.push(c.get(adapterName));
      else out.push(...c.get(adapterName).parameters());
    }
    return out;
  }

  /** Makes `names` the active adapters: their parameters trainable, the others frozen (as peft). */
  setAdapter(names: string | string[]): void {
    const list = typeof names === "string" ? [names] : names;
    for (const a of this.adapterNames()) for (const p of this.adapterParameters(a)) p.requiresGrad = list.includes(a);
    this.activeAdapters = list.slice();
  }
  enableAdapters(enabled: boolean): void {
    this.disableAdapters = !enabled;
  }
  deleteAdapter(adapterName: string): void {
    for (const n of this.adapterLayerNames) {
      const c = this.container(n);
      if (c && c.has(adapterName)) c.delete(adapterName);
    }
    for (const n of this.otherParamNames) {
      const m = (this as unknown as Record<string, unknown>)[n];
      if (m instanceof Map) m.delete(adapterName);
    }
    if (this.activeAdapters.includes(adapterName)) {
      const rest = this.activeAdapters.filter((a) => a !== adapterName);
      const remaining = this.adapterNames();
      this.setAdapter(rest.length ? rest : remaining.length ? [remaining[0]] : []);
    }
  }

  /** ΔW of one adapter in the base weight's own layout. Methods that do not merge additively override merge. */
  getDeltaWeight(adapterName: string): Tensor {
    throw new PeftError(`${this.constructor.name} cannot compute a delta weight for '${adapterName}'`);
  }

  /** Adds the active (or given) adapters into the base weight. */
  merge(opts: { adapterNames?: string[]; safeMerge?: boolean } = {}): void {
    const names = (opts.adapterNames ?? this.activeAdapters).filter((a) => this.adapterNames().includes(a) && !this.mergedAdapters.includes(a));
    noGrad(() => {
      for (const a of names) {
        this.mergeOne(a, opts.safeMerge ?? false);
        this.mergedAdapters.push(a);
      }
    });
  }
  /** Removes merged adapters from the base weight, last merged first. */
  unmerge(): void {
    noGrad(() => {
      while (this.mergedAdapters.length) {
        const a = this.mergedAdapters.pop()!;
        this.unmergeOne(a);
      }
    });
  }
  protected mergeOne(adapterName: string, safeMerge: boolean): void {
    const delta = this.getDeltaWeight(adapterName);
    addIntoWeight(this.getBaseLayer(), delta, 1, safeMerge ? adapterName : null);
  }
  protected unmergeOne(adapterName: string): void {
    addIntoWeight(this.getBaseLayer(), this.getDeltaWeight(adapterName), -1, null);
  }
}

/**
 * W += sign·Δ in place (no autograd). Δ is given in [out, in] (Linear) orientation and is
 * transposed for Conv1D ([in, out]) weights; Embedding weights take Δ as [num, dim].
 * Non-f32 weights (bf16 frozen storage) are updated through f32 and converted back.
 */
export function addIntoWeight(layer: Module, delta: Tensor, sign: number, safeMergeName: string | null): void {
  if (layer instanceof QuantLinear) {
    const err = addIntoQuantLinear(layer, delta, sign, safeMergeName);
    layer.lastRequantError = err;
    return;
  }
  const w = ownParam(layer, "weight");
  if (!w) throw new PeftError(`cannot merge into ${layer.constructor.name}: it has no weight`);
  const d = layerKind(layer) === "conv1d" ? delta.transpose(0, 1).contiguous() : delta.contiguous();
  if (d.size !== w.size || d.shape.some((s, i) => s !== w.shape[i])) {
    throw new ShapeError(`merge: delta weight [${d.shape}] does not fit base weight [${w.shape}]${w.name ? ` ('${w.name}')` : ""}`);
  }
  const dd = d.f32();
  const wd = w.dtype === "f32" && w.isContiguous() ? (w.data as Float32Array) : Float32Array.from(w.f32());
  if (safeMergeName !== null) {
    for (let i = 0; i < wd.length; i++) {
      if (!Number.isFinite(wd[i] + sign * dd[i])) throw new PeftError(`safe merge: NaN/Inf in the merged weight of adapter '${safeMergeName}'; the adapter seems broken`);
    }
  }
  for (let i = 0; i < wd.length; i++) wd[i] += sign * dd[i];
  if (!(w.dtype === "f32" && w.isContiguous())) {
    const nw = new Tensor(wd, w.shape, "f32").to(w.dtype);
    nw.requiresGrad = w.requiresGrad;
    nw.name = w.name;
    layer.registerParameter("weight", nw);
  }
}
