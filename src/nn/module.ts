// Module: the PyTorch-style container of parameters, buffers and submodules.
// Names are registered explicitly so that namedParameters() yields exactly the HF state_dict names
// (e.g. "bert.encoder.layer.0.attention.self.query.weight").

import { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";

export abstract class Module {
  training = true;
  protected readonly _parameters = new Map<string, Tensor | null>();
  protected readonly _buffers = new Map<string, Tensor>();
  protected readonly _modules = new Map<string, Module>();

  /** Registers (or replaces) a parameter; the same-named property, if any, is kept in sync. */
  registerParameter(name: string, t: Tensor | null): Tensor {
    this._parameters.set(name, t);
    (this as any)[name] = t;
    if (t) t.name ??= name;
    return t as Tensor;
  }
  registerBuffer(name: string, t: Tensor): Tensor {
    this._buffers.set(name, t);
    (this as any)[name] = t;
    return t;
  }
  registerModule<M extends Module>(name: string, m: M): M {
    this._modules.set(name, m);
    if (!/^\d+$/.test(name)) (this as any)[name] = m;
    return m;
  }

  /** Direct children. */
  children(): [string, Module][] {
    return [...this._modules.entries()];
  }
  /** This module and all descendants with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this._modules) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  /** Parameters with their full dotted names; a tensor shared by two modules (tied weights) is listed once. */
  namedParameters(prefix = "", seen = new Set<Tensor>()): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this._parameters) {
      if (!p || seen.has(p)) continue;
      seen.add(p);
      out.push([prefix ? `${prefix}.${n}` : n, p]);
    }
    for (const [n, m] of this._modules) out.push(...m.namedParameters(prefix ? `${prefix}.${n}` : n, seen));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, m] of this._modules) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  /** Own parameter slots (including null ones such as a missing bias). */
  ownParameters(): [string, Tensor | null][] {
    return [...this._parameters.entries()];
  }

  /** The submodule at a dotted path ("" = this). */
  getSubmodule(path: string): Module {
    if (path === "") return this;
    let cur: Module = this;
    for (const part of path.split(".")) {
      const next = cur._modules.get(part);
      if (!next) throw new ShapeError(`getSubmodule: '${path}' not found (no child '${part}' in ${cur.constructor.name})`);
      cur = next;
    }
    return cur;
  }
  /** Replaces the submodule at a dotted path (used by PEFT injection). */
  setSubmodule(path: string, m: Module): void {
    const i = path.lastIndexOf(".");
    const parent = i < 0 ? this : this.getSubmodule(path.slice(0, i));
    const name = i < 0 ? path : path.slice(i + 1);
    if (!parent._modules.has(name)) throw new ShapeError(`setSubmodule: '${path}' does not exist`);
    parent.registerModule(name, m);
  }
  /** Replaces a parameter tensor by full dotted name (e.g. when loading or converting dtype). */
  setParameter(path: string, t: Tensor): void {
    const i = path.lastIndexOf(".");
    const owner = i < 0 ? this : this.getSubmodule(path.slice(0, i));
    const name = i < 0 ? path : path.slice(i + 1);
    if (!owner._parameters.has(name)) throw new ShapeError(`setParameter: '${path}' is not a parameter`);
    owner.registerParameter(name, t);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Sets requiresGrad on every parameter. */
  requiresGrad_(flag: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /** Parameters and persistent buffers by full name (like state_dict()). */
  stateDict(): Map<string, Tensor> {
    const sd = new Map<string, Tensor>();
    const all: [string, Tensor][] = [];
    const walk = (m: Module, prefix: string) => {
      for (const [n, p] of m._parameters) if (p) all.push([prefix ? `${prefix}.${n}` : n, p]);
      for (const [n, c] of m._modules) walk(c, prefix ? `${prefix}.${n}` : n);
    };
    walk(this, "");
    for (const [n, t] of all) sd.set(n, t);
    return sd;
  }
  numParameters(onlyTrainable = false): number {
    return this.parameters().reduce((acc, p) => acc + (onlyTrainable && !p.requiresGrad ? 0 : p.size), 0);
  }
}

/** An indexed list of modules ("layer.0", "layer.1", …). */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(items: M[] = []) {
    super();
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this._modules.size;
  }
  get(i: number): M {
    return this._modules.get(String(i)) as M;
  }
  push(m: M): void {
    this.registerModule(String(this._modules.size), m);
  }
  [Symbol.iterator](): Iterator<M> {
    return ([...this._modules.values()] as M[])[Symbol.iterator]();
  }
}
