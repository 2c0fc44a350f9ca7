// Shared base of the LyCORIS-family methods (LoHa, LoKr): the adapter is a full-size ΔW built
// from small factors, applied as y = base(x) + x·ΔWᵀ, with peft's rank dropout (rows of ΔW
// dropped, rescaled) and module dropout (the whole adapter skipped) in training. Linear only.

import { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { globalRng } from "../tensor/random.js";
import { PeftError } from "../tensor/errors.js";
import { add, linear, mul } from "../ops/index.js";
import { PeftConfig, PeftConfigOptions, checkPositiveInt, checkTargetSpec } from "./config.js";
import { callForward, layerKind, linearDims } from "./containers.js";
import { BaseTunerLayer, LayerContext } from "./tuner_layer.js";
import { BaseTuner } from "./tuner.js";
import { patternKey } from "./target_matching.js";
import { LORA_R, MODULES_TO_SAVE, TARGET_MODULES, loraAlpha } from "./cli.js";
import type { PeftCliField } from "./registry.js";

export interface LycorisConfigOptions extends PeftConfigOptions {
  r?: number;
  alpha?: number;
  rankDropout?: number;
  moduleDropout?: number;
  targetModules?: string | string[] | null;
  excludeModules?: string | string[] | null;
  /** true: ΔW = 0 at init; false: every factor random (tests). */
  initWeights?: boolean;
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  modulesToSave?: string[] | null;
}

export const LYCORIS_DEFAULTS = {
  rankPattern: {}, alphaPattern: {}, r: 8, alpha: 8, rankDropout: 0.0, moduleDropout: 0.0, useEffectiveConv2d: false,
  targetModules: null, excludeModules: null, initWeights: true, layersToTransform: null, layersPattern: null, modulesToSave: null,
};

/** The CLI flags LoHa and LoKr share: lora_r / lora_alpha set their r / alpha (no default target modules). */
export const LYCORIS_CLI_FIELDS: readonly PeftCliField[] = [
  LORA_R, loraAlpha("alpha"),
  { flag: "rank_dropout", kind: "float", default: 0, help: "LoHa/LoKr: dropout of rows of the weight update in training" },
  { flag: "module_dropout", kind: "float", default: 0, help: "LoHa/LoKr: probability of skipping the whole adapter in a training step" },
  TARGET_MODULES, MODULES_TO_SAVE,
];

export abstract class LycorisConfig extends PeftConfig {
  declare r: number;
  declare alpha: number;
  declare rankDropout: number;
  declare moduleDropout: number;
  declare useEffectiveConv2d: boolean;
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare initWeights: boolean;
  declare layersToTransform: number | number[] | null;
  declare layersPattern: string | string[] | null;
  declare rankPattern: Record<string, number>;
  declare alphaPattern: Record<string, number>;
  declare modulesToSave: string[] | null;
  protected static override floatFields = ["rank_dropout", "module_dropout"];
  override validate(): void {
    const c = this.constructor.name;
    checkPositiveInt(c, "r", this.r);
    checkTargetSpec("target_modules", c, this.targetModules);
    checkTargetSpec("exclude_modules", c, this.excludeModules);
    for (const [n, v] of [["rank_dropout", this.rankDropout], ["module_dropout", this.moduleDropout]] as const) {
      if (typeof v !== "number" || v < 0 || v >= 1) throw new PeftError(`${c}: ${n} must be in [0, 1), got ${JSON.stringify(v)}`);
    }
  }
}

/** kaiming_uniform_(a=√5) on a 2-d tensor: U(±1/√fan_in), fan_in = shape[1]. */
export function kaimingUniform(t: Tensor): Tensor {
  const b = 1 / Math.sqrt(t.shape[1]);
  globalRng.fillUniform(t.data as Float32Array, -b, b);
  return t;
}

export abstract class LycorisLayer extends BaseTunerLayer {
  override readonly otherParamNames = ["r", "alpha", "scaling", "rankDropout", "moduleDropout"] as const;
  readonly r = new Map<string, number>();
  readonly alpha = new Map<string, number>();
  readonly scaling = new Map<string, number>();
  readonly rankDropout = new Map<string, number>();
  readonly moduleDropout = new Map<string, number>();
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Module, method: string) {
    super(base);
    if (layerKind(base) !== "linear") throw new PeftError(`Target module ${base.constructor.name} is not supported by ${method}. Currently, only Linear is supported.`);
    [this.inFeatures, this.outFeatures] = linearDims(base);
  }

  /** Creates the factors of one adapter (r, alpha resolved from the patterns). */
  protected abstract createFactors(adapterName: string, r: number, cfg: LycorisConfig): void;
  /** ΔW [out, in] with autograd (before scaling-independent rank dropout). */
  protected abstract deltaWithGrad(adapterName: string): Tensor;

  override updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext): void {
    const cfg = config as LycorisConfig;
    const rk = patternKey(cfg.rankPattern, ctx.key), ak = patternKey(cfg.alphaPattern, ctx.key);
    const r = rk !== null ? cfg.rankPattern[rk] : cfg.r;
    const alpha = ak !== null ? cfg.alphaPattern[ak] : cfg.alpha;
    this.r.set(adapterName, r);
    this.alpha.set(adapterName, alpha);
    this.scaling.set(adapterName, alpha / r);
    this.rankDropout.set(adapterName, cfg.rankDropout);
    this.moduleDropout.set(adapterName, cfg.moduleDropout);
    this.createFactors(adapterName, r, cfg);
    this.setAdapter(ctx.activeAdapters);
  }

  override getDeltaWeight(adapterName: string): Tensor {
    return noGrad(() => this.deltaWithGrad(adapterName));
  }

  /** ΔW with rows dropped (training, rank_dropout > 0) and rescaled by 1/mean(kept). */
  private trainingDelta(a: string): Tensor {
    let w = this.deltaWithGrad(a);
    const p = this.rankDropout.get(a) ?? 0;
    if (this.training && p > 0) {
      const keep = new Float32Array(this.outFeatures);
      let n = 0;
      for (let i = 0; i < keep.length; i++) if ((keep[i] = globalRng.random() > p ? 1 : 0)) n++;
      const m = n / keep.length;
      if (m > 0) for (let i = 0; i < keep.length; i++) keep[i] /= m;
      w = mul(w, new Tensor(keep, [this.outFeatures, 1]));
    }
    return w;
  }

  protected override adapterForward(x: unknown): Tensor {
    let result = callForward<Tensor>(this.base_layer, x);
    for (const a of this.activeAdapters) {
      if (!this.r.has(a)) continue;
      const md = this.moduleDropout.get(a) ?? 0;
      if (this.training && md > 0 && globalRng.random() <= md) continue;
      result = add(result, linear(x as Tensor, this.trainingDelta(a)));
    }
    return result;
  }
}

/** Tuner shared by LoHa/LoKr: wraps Linear targets in the method's layer class. */
export abstract class LycorisTuner extends BaseTuner {
  protected abstract makeLayer(target: Module): LycorisLayer;
  protected defaultTargetModules(): string[] | null {
    return null;
  }
  protected createAndReplace(cfg: PeftConfig, adapterName: string, target: Module, key: string): void {
    this.updateOrWrap(LycorisLayer, () => this.makeLayer(target), cfg, adapterName, target, { key, activeAdapters: this.activeAdapters });
  }
}
