// IA3 layer: learned rescaling vectors `ia3_l.<adapter>`. Feed-forward targets scale the layer's
// input (ia3_l [1, in]); the others scale its output (ia3_l [out, 1]). Merging multiplies the
// weight's columns (input scaling) or rows and the bias (output scaling).

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { globalRng } from "../../tensor/random.js";
import { PeftError } from "../../tensor/errors.js";
import { mul } from "../../ops/index.js";
import { ParameterDict, callForward, layerKind, linearDims, ownParam } from "../containers.js";
import { BaseTunerLayer, LayerContext } from "../tuner_layer.js";
import type { PeftConfig } from "../config.js";
import type { IA3Config } from "./config.js";

export class IA3Layer extends BaseTunerLayer {
  declare ia3_l: ParameterDict;
  readonly adapterLayerNames = ["ia3_l"] as const;
  readonly isFeedforward: boolean;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Module, isFeedforward: boolean) {
    super(base);
    const k = layerKind(base);
    if (k !== "linear" && k !== "conv1d") {
      throw new PeftError(`Target module ${base.constructor.name} is not supported by IA3. Currently, only Linear and Conv1D (GPT-2) are supported.`);
    }
    [this.inFeatures, this.outFeatures] = linearDims(base);
    this.isFeedforward = isFeedforward;
    this.registerModule("ia3_l", new ParameterDict());
  }

  override updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext): void {
    const cfg = config as IA3Config;
    const v = Tensor.zeros(this.isFeedforward ? [1, this.inFeatures] : [this.outFeatures, 1]);
    if (cfg.initIa3Weights) (v.data as Float32Array).fill(1);
    else globalRng.fillNormal(v.data);
    this.ia3_l.set(adapterName, v.requiresGrad_());
    this.setAdapter(ctx.activeAdapters);
  }

  /** Product of the active adapters' vectors, flattened ([in] or [out]). */
  private scalingVector(): Tensor | null {
    let s: Tensor | null = null;
    for (const a of this.activeAdapters) {
      if (!this.ia3_l.has(a)) continue;
      const v = this.ia3_l.get(a).reshape([-1]);
      s = s ? mul(s, v) : v;
    }
    return s;
  }

  protected override adapterForward(x: unknown): Tensor {
    const s = this.scalingVector();
    if (!s) return callForward(this.base_layer, x);
    if (this.isFeedforward) return callForward(this.base_layer, mul(x as Tensor, s));
    return mul(callForward<Tensor>(this.base_layer, x), s);
  }

  protected override mergeOne(adapterName: string, safeMerge: boolean): void {
    this.scaleWeight(this.ia3_l.get(adapterName).f32(), false, safeMerge ? adapterName : null);
  }
  protected override unmergeOne(adapterName: string): void {
    this.scaleWeight(this.ia3_l.get(adapterName).f32(), true, null);
  }

  /** Multiplies (or divides) the base weight along its input or output axis, and the bias for output scaling. */
  private scaleWeight(v: Float32Array, divide: boolean, safeName: string | null): void {
    const base = this.getBaseLayer();
    const w = ownParam(base, "weight")!;
    const conv = layerKind(base) === "conv1d";
    const [inF, outF] = [this.inFeatures, this.outFeatures];
    const f = (x: number) => (divide ? 1 / (x + 1e-8) : x);
    const wd = w.f32().slice();
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        const idx = conv ? i * outF + o : o * inF + i;
        wd[idx] *= f(this.isFeedforward ? v[i] : v[o]);
      }
    }
    if (safeName !== null && wd.some((x) => !Number.isFinite(x))) throw new PeftError(`safe merge: NaN/Inf in the merged weight of adapter '${safeName}'`);
    writeParam(base, "weight", w, wd);
    const b = ownParam(base, "bias");
    if (b && !this.isFeedforward) {
      const bd = b.f32().slice();
      for (let o = 0; o < outF; o++) bd[o] *= f(v[o]);
      writeParam(base, "bias", b, bd);
    }
  }
}

function writeParam(m: Module, name: string, old: Tensor, vals: Float32Array): void {
  if (old.dtype === "f32" && old.isContiguous()) (old.data as Float32Array).set(vals);
  else {
    const t = new Tensor(vals, old.shape, "f32").to(old.dtype);
    t.requiresGrad = old.requiresGrad;
    t.name = old.name;
    m.registerParameter(name, t);
  }
}
