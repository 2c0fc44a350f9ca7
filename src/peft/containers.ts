// Small module containers and helpers the tuners share: ModuleDict / ParameterDict (per-adapter
// slots such as `lora_A.default`), a deep copy of a module (modules_to_save, LN tuning), and the
// shape facts of the layers adapters wrap (Linear weight [out,in]; GPT-2 Conv1D weight [in,out]).

import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { Embedding, LayerNorm, Linear, RMSNorm } from "../nn/layers.js";
import { Conv1D } from "../nn/conv1d.js";
import { QuantLinear } from "../nn/quant_linear.js";

/** Named child modules, one per adapter (`lora_A.default`, `lora_A.other`). */
export class ModuleDict<M extends Module = Module> extends Module {
  has(name: string): boolean {
    return this._modules.has(name);
  }
  get(name: string): M {
    return this._modules.get(name) as M;
  }
  set(name: string, m: M): void {
    this.registerModule(name, m);
  }
  delete(name: string): void {
    this._modules.delete(name);
    delete (this as unknown as Record<string, unknown>)[name];
  }
  keys(): string[] {
    return [...this._modules.keys()];
  }
}

/** Named parameters, one per adapter (`ia3_l.default`, `lora_embedding_A.default`). */
export class ParameterDict extends Module {
  has(name: string): boolean {
    return this._parameters.has(name);
  }
  get(name: string): Tensor {
    return this._parameters.get(name) as Tensor;
  }
  set(name: string, t: Tensor): void {
    this.registerParameter(name, t);
  }
  delete(name: string): void {
    this._parameters.delete(name);
    delete (this as unknown as Record<string, unknown>)[name];
  }
  keys(): string[] {
    return [...this._parameters.keys()];
  }
}

/** A copy of a tensor's values in a fresh contiguous f32/… storage (no autograd history). */
export function cloneTensor(t: Tensor): Tensor {
  const out = new Tensor((t.data as Float32Array).slice(), t.shape, t.dtype);
  out.requiresGrad = t.requiresGrad;
  return out;
}

type Internals = {
  _parameters: Map<string, Tensor | null>;
  _buffers: Map<string, Tensor>;
  _modules: Map<string, Module>;
};

/** Deep copy of a module tree (like copy.deepcopy): new parameter storages, same classes and settings. */
export function cloneModule<M extends Module>(m: M): M {
  const src = m as unknown as Internals & Record<string | symbol, unknown>;
  const c = Object.create(Object.getPrototypeOf(m)) as Internals & Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(m)) c[key] = src[key];
  c._parameters = new Map();
  c._buffers = new Map();
  c._modules = new Map();
  const cm = c as unknown as Module;
  for (const [n, p] of src._parameters) cm.registerParameter(n, p ? cloneTensor(p) : null);
  for (const [n, b] of src._buffers) cm.registerBuffer(n, cloneTensor(b));
  for (const [n, child] of src._modules) cm.registerModule(n, cloneModule(child));
  return c as unknown as M;
}

/** Direct own parameter of a module by name (null when absent). */
export function ownParam(m: Module, name: string): Tensor | null {
  for (const [n, p] of m.ownParameters()) if (n === name) return p;
  return null;
}

export type LayerKind = "linear" | "conv1d" | "embedding" | "layernorm" | "other";

/** What kind of layer a module is; GPT-2's Conv1D has weight [in, out]. */
export function layerKind(m: Module): LayerKind {
  if (m instanceof Linear || m instanceof QuantLinear) return "linear";
  if (m instanceof Embedding) return "embedding";
  if (m instanceof Conv1D) return "conv1d";
  if (m instanceof LayerNorm || m instanceof RMSNorm) return "layernorm";
  return "other";
}

/** [inFeatures, outFeatures] of a Linear ([out,in] weight) or Conv1D ([in,out] weight). */
export function linearDims(m: Module): [number, number] {
  if (m instanceof QuantLinear) return [m.inFeatures, m.outFeatures];
  const w = ownParam(m, "weight");
  if (!w || w.ndim !== 2) throw new Error(`linearDims: ${m.constructor.name} has no 2-d weight`);
  return layerKind(m) === "conv1d" ? [w.shape[0], w.shape[1]] : [w.shape[1], w.shape[0]];
}

/** Calls `forward` of any module (the models' layers all have one). */
export function callForward<R = Tensor>(m: Module, ...args: unknown[]): R {
  const f = (m as unknown as { forward?: (...a: unknown[]) => R }).forward;
  if (typeof f !== "function") throw new Error(`${m.constructor.name} has no forward()`);
  return f.apply(m, args);
}
