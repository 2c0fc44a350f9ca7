// Optimizer base: param groups, per-parameter state, a flat gradient buffer, and a
// state_dict that round-trips through optimizer.safetensors (tensors by parameter name,
// scalar state and group hyper-parameters as JSON in the safetensors metadata).

import { Tensor } from "../../tensor/tensor.js";
import { ConfigError, FormatError } from "../../tensor/errors.js";
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from "../../io/safetensors.js";

export interface ParamGroup {
  params: Tensor[];
  /** Parameter names (state_dict names), parallel to params; used as keys in saved state. */
  names: string[];
  lr: number;
  /** The lr the schedule multiplies (set by the scheduler). */
  initialLr?: number;
  weightDecay: number;
  [hyper: string]: unknown;
}

export interface ParamGroupInput {
  params: Tensor[];
  names?: string[];
  lr?: number;
  weightDecay?: number;
  [hyper: string]: unknown;
}

/** Per-parameter state: named Float32Array buffers plus scalars (e.g. step). */
export interface ParamState {
  step: number;
  buffers: Map<string, Float32Array>;
  scalars: Record<string, number>;
}

/**
 * One Float32Array holding every trainable parameter's gradient; each param's .grad is a view
 * into it, so zeroing, clipping, loss-scale unscaling and (later) an allreduce are one pass.
 * Unbacked (`backed` false, ZeRO stage 2): only the layout (params, offsets) — no buffer; each
 * .grad is the tensor backward made, which the stage-2 buckets release once reduce-scattered.
 */
export class FlatGrads {
  readonly buffer: Float32Array;
  readonly offsets: number[] = [];
  /** Floats of all the parameters (the buffer may be longer: padding). */
  readonly total: number;
  /** `padTo`: the buffer's length is rounded up to a multiple of it (ZeRO's slices; the tail stays 0). */
  constructor(readonly params: Tensor[], padTo = 1, readonly backed = true) {
    let n = 0;
    for (const p of params) {
      this.offsets.push(n);
      n += p.size;
    }
    this.total = n;
    this.buffer = new Float32Array(backed ? Math.ceil(n / padTo) * padTo : 0);
    this.attach();
  }
  /** (Re)points every param's .grad at its slice (after code that replaced .grad); unbacked: nothing. */
  attach(): void {
    for (let i = 0; i < this.params.length; i++) this.attachOne(i);
  }
  /** attach() for param i only. */
  attachOne(i: number): void {
    if (!this.backed) return;
    const p = this.params[i];
    const g = p.grad;
    if (g && g.storage === this.buffer && g.offset === this.offsets[i]) return;
    const view = new Tensor(this.buffer, p.shape, "f32", undefined, this.offsets[i]);
    if (g && g.storage !== this.buffer) view.data.set(g.f32());
    p.grad = view;
  }
  /** Zero gradients (unbacked: the .grad tensors are dropped). */
  zero(): void {
    if (!this.backed) {
      for (const p of this.params) p.grad = null;
      return;
    }
    this.buffer.fill(0);
    this.attach();
  }
  view(i: number): Float32Array {
    if (!this.backed) throw new Error("FlatGrads.view: an unbacked layout has no buffer");
    return this.buffer.subarray(this.offsets[i], this.offsets[i] + this.params[i].size);
  }
}

export abstract class Optimizer {
  readonly paramGroups: ParamGroup[];
  readonly state = new Map<Tensor, ParamState>();
  protected readonly defaults: Record<string, unknown>;

  constructor(groups: ParamGroupInput[] | Tensor[], defaults: { lr: number; weightDecay: number } & Record<string, unknown>) {
    this.defaults = defaults;
    const gs: ParamGroupInput[] = groups.length > 0 && groups[0] instanceof Tensor ? [{ params: groups as Tensor[] }] : (groups as ParamGroupInput[]);
    const seen = new Set<Tensor>();
    this.paramGroups = gs.map((g, gi) => {
      for (const p of g.params) {
        if (seen.has(p)) throw new ConfigError(`optimizer: a parameter appears in more than one param group (group ${gi}${p.name ? `, '${p.name}'` : ""})`);
        seen.add(p);
        if (p.dtype !== "f32") throw new ConfigError(`optimizer: parameter ${p.name ?? "?"} is ${p.dtype}; only f32 parameters can be optimized`);
      }
      const names = g.names ?? g.params.map((p, i) => p.name ?? `group${gi}.param${i}`);
      return { ...defaults, ...g, names, lr: g.lr ?? defaults.lr, weightDecay: g.weightDecay ?? defaults.weightDecay } as ParamGroup;
    });
  }

  abstract readonly kind: string;
  /** Updates every parameter that has a gradient. */
  abstract step(): void;

  params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }
  namedParams(): [string, Tensor][] {
    return this.paramGroups.flatMap((g) => g.params.map((p, i) => [g.names[i], p] as [string, Tensor]));
  }
  zeroGrad(): void {
    for (const p of this.params()) p.zeroGrad();
  }
  protected stateOf(p: Tensor, init: (s: ParamState) => void): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, buffers: new Map(), scalars: {} };
      init(s);
      this.state.set(p, s);
    }
    return s;
  }

  /**
   * Writes optimizer.safetensors: "<param name>.<buffer>" tensors, metadata with steps and groups.
   * `state`: the per-parameter state to write instead of this.state (tensor parallelism's gathered state).
   */
  save(path: string, state: ReadonlyMap<Tensor, ParamState> = this.state): void {
    const tensors = new Map<string, Tensor>();
    const scalars: Record<string, Record<string, number>> = {};
    for (const [name, p] of this.namedParams()) {
      const s = state.get(p);
      if (!s) continue;
      scalars[name] = { step: s.step, ...s.scalars };
      for (const [b, arr] of s.buffers) tensors.set(`${name}.${b}`, new Tensor(Float32Array.from(arr), [arr.length], "f32"));
    }
    const groups = this.paramGroups.map((g) => {
      const { params: _p, ...rest } = g;
      return rest;
    });
    saveSafetensors(path, tensors, {
      format: "peft-ts-optimizer",
      optimizer: this.kind,
      state: JSON.stringify(scalars),
      param_groups: JSON.stringify(groups),
    });
  }

  /** Restores state saved by save(); parameters are matched by name and size. */
  load(path: string): void {
    const header = readSafetensorsHeader(path);
    const md = header.metadata ?? {};
    if (md.format !== "peft-ts-optimizer") throw new FormatError(`${path}: __metadata__.format is '${md.format}', expected 'peft-ts-optimizer'`);
    if (md.optimizer !== this.kind) throw new FormatError(`${path}: optimizer state is for '${md.optimizer}', this run uses '${this.kind}'`);
    let scalars: Record<string, Record<string, number>>;
    let groups: Record<string, unknown>[];
    try {
      scalars = JSON.parse(md.state ?? "");
      groups = JSON.parse(md.param_groups ?? "");
    } catch {
      throw new FormatError(`${path}: __metadata__.state / param_groups are not valid JSON`);
    }
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new FormatError(`${path}: ${Array.isArray(groups) ? groups.length : "no"} param groups saved, the optimizer has ${this.paramGroups.length}`);
    }
    const tensors = loadSafetensors(path);
    this.state.clear();
    this.paramGroups.forEach((g, gi) => {
      const saved = groups[gi];
      const savedNames = saved.names as string[];
      if (!Array.isArray(savedNames) || savedNames.join("\n") !== g.names.join("\n")) {
        throw new FormatError(`${path}: param group ${gi} lists different parameters than the model's trainable parameters`);
      }
      for (const [k, v] of Object.entries(saved)) if (k !== "names") (g as Record<string, unknown>)[k] = v;
      g.params.forEach((p, i) => {
        const name = g.names[i];
        const sc = scalars[name];
        if (!sc) return;
        const { step, ...rest } = sc;
        const s: ParamState = { step, buffers: new Map(), scalars: rest };
        const prefix = name + ".";
        for (const [tn, t] of tensors) {
          if (!tn.startsWith(prefix) || tn.slice(prefix.length).includes(".")) continue;
          const arr = t.f32();
          s.buffers.set(tn.slice(prefix.length), Float32Array.from(arr));
        }
        this.state.set(p, s);
      });
    });
  }
}
