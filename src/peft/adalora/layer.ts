// AdaLoRA's SVD-form layer: ΔW = B·(A ⊙ E)·scaling/(ranknum + 1e-5), with P=B [out,r], Λ=E [r,1]
// (singular values, start at 0), Q=A [r,in]. Pruning zeroes entries of E. peft names:
// lora_A.<a> [r,in], lora_B.<a> [out,r], lora_E.<a> [r,1], ranknum.<a> [1] (frozen, not saved).

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { noGrad } from "../../tensor/autograd.js";
import { globalRng } from "../../tensor/random.js";
import { PeftError } from "../../tensor/errors.js";
import { add, dropout, linear, matmul, mul, scale } from "../../ops/index.js";
import { ParameterDict, callForward, layerKind, linearDims } from "../containers.js";
import { BaseTunerLayer, LayerContext } from "../tuner_layer.js";
import type { PeftConfig } from "../config.js";
import type { AdaLoraConfig } from "./config.js";

export class AdaLoraLayer extends BaseTunerLayer {
  declare lora_A: ParameterDict;
  declare lora_B: ParameterDict;
  declare lora_E: ParameterDict;
  declare ranknum: ParameterDict;
  readonly adapterLayerNames = ["lora_A", "lora_B", "lora_E"] as const;
  override readonly otherParamNames = ["scaling", "loraDropout"] as const;
  readonly scaling = new Map<string, number>();
  readonly loraDropout = new Map<string, number>();
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Module) {
    super(base);
    const k = layerKind(base);
    if (k !== "linear" && k !== "conv1d") throw new PeftError(`Target module ${base.constructor.name} is not supported by AdaLoRA. Currently, only Linear and Conv1D are supported.`);
    [this.inFeatures, this.outFeatures] = linearDims(base);
    for (const n of ["lora_A", "lora_B", "lora_E", "ranknum"]) this.registerModule(n, new ParameterDict());
  }

  override updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext): void {
    this.createAdapter(adapterName, config as AdaLoraConfig, (config as AdaLoraConfig).initR);
    this.setAdapter(ctx.activeAdapters);
  }
  /** (Re)creates the factors of an adapter at rank r. */
  createAdapter(adapterName: string, cfg: AdaLoraConfig, r: number): void {
    const A = Tensor.zeros([r, this.inFeatures]), B = Tensor.zeros([this.outFeatures, r]);
    globalRng.fillNormal(A.data, 0, 0.02);
    globalRng.fillNormal(B.data, 0, 0.02);
    this.lora_A.set(adapterName, A.requiresGrad_());
    this.lora_B.set(adapterName, B.requiresGrad_());
    this.lora_E.set(adapterName, Tensor.zeros([r, 1]).requiresGrad_());
    this.ranknum.set(adapterName, Tensor.full([1], r));
    this.scaling.set(adapterName, cfg.loraAlpha > 0 ? cfg.loraAlpha : r);
    this.loraDropout.set(adapterName, cfg.loraDropout);
  }
  override deleteAdapter(adapterName: string): void {
    if (this.ranknum.has(adapterName)) this.ranknum.delete(adapterName);
    super.deleteAdapter(adapterName);
  }
  private factor(a: string): number {
    return this.scaling.get(a)! / (this.ranknum.get(a).f32()[0] + 1e-5);
  }
  override getDeltaWeight(a: string): Tensor {
    return noGrad(() => scale(matmul(this.lora_B.get(a), mul(this.lora_A.get(a), this.lora_E.get(a))), this.factor(a)));
  }
  protected override adapterForward(x: unknown): Tensor {
    let result = callForward<Tensor>(this.base_layer, x);
    for (const a of this.activeAdapters) {
      if (!this.lora_A.has(a)) continue;
      const p = this.loraDropout.get(a) ?? 0;
      const xd = p > 0 && this.training ? dropout(x as Tensor, p, true) : (x as Tensor);
      const h = linear(linear(xd, mul(this.lora_A.get(a), this.lora_E.get(a))), this.lora_B.get(a));
      result = add(result, scale(h, this.factor(a)));
    }
    return result;
  }
}
