// VeRA (Kopiczko et al. 2023): one pair of frozen random projections shared by all layers
// (vera_A [r, max_in], vera_B [max_out, r]) and two trainable scaling vectors per layer:
//   y = base(x) + λ_b ⊙ (B[:out] · (λ_d ⊙ (A[:, :in] · dropout(x))))
// peft names: vera_lambda_b.<a> [out], vera_lambda_d.<a> [r]; projections base_model.vera_A/B.<a>.
// The projections come from our seeded RNG (not torch's), so they are always saved with the adapter.

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { noGrad } from "../../tensor/autograd.js";
import { Rng, globalRng } from "../../tensor/random.js";
import { ConfigError, PeftError } from "../../tensor/errors.js";
import { add, dropout, linear, matmul, mul } from "../../ops/index.js";
import { PeftConfig, PeftConfigOptions, checkOneOf, checkPositiveInt, checkTargetSpec } from "../config.js";
import { registerPeftMethod } from "../registry.js";
import { MODULES_TO_SAVE, TARGET_MODULES } from "../cli.js";
import { ParameterDict, callForward, layerKind, linearDims } from "../containers.js";
import { BaseTunerLayer, LayerContext } from "../tuner_layer.js";
import { BaseTuner } from "../tuner.js";
import { matchTarget, targetSpec } from "../target_matching.js";

export interface VeraConfigOptions extends PeftConfigOptions {
  r?: number;
  targetModules?: string | string[] | null;
  excludeModules?: string | string[] | null;
  projectionPrngKey?: number;
  saveProjection?: boolean;
  veraDropout?: number;
  dInitial?: number;
  fanInFanOut?: boolean;
  bias?: "none";
  modulesToSave?: string[] | null;
  initWeights?: boolean;
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
}

export class VeraConfig extends PeftConfig {
  declare r: number;
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare projectionPrngKey: number;
  declare saveProjection: boolean;
  declare veraDropout: number;
  declare dInitial: number;
  declare fanInFanOut: boolean;
  declare bias: string;
  declare modulesToSave: string[] | null;
  declare initWeights: boolean;
  declare layersToTransform: number | number[] | null;
  declare layersPattern: string | string[] | null;
  protected static override floatFields = ["vera_dropout", "d_initial"];
  constructor(opts: VeraConfigOptions = {}) {
    super("VERA", {
      r: 256, targetModules: null, excludeModules: null, projectionPrngKey: 0, saveProjection: true, veraDropout: 0.0, dInitial: 0.1,
      fanInFanOut: false, bias: "none", modulesToSave: null, initWeights: true, layersToTransform: null, layersPattern: null,
    }, opts);
    this.validate();
  }
  override validate(): void {
    checkPositiveInt("VeraConfig", "r", this.r);
    checkTargetSpec("target_modules", "VeraConfig", this.targetModules);
    checkTargetSpec("exclude_modules", "VeraConfig", this.excludeModules);
    checkOneOf("VeraConfig", "bias", this.bias, ["none"]);
    if (!this.saveProjection) throw new ConfigError("VeraConfig: save_projection=false is not supported: peft-ts cannot regenerate torch's random projections, so they must be saved");
  }
}

export class VeraLayer extends BaseTunerLayer {
  declare vera_lambda_b: ParameterDict;
  declare vera_lambda_d: ParameterDict;
  readonly adapterLayerNames = ["vera_lambda_b", "vera_lambda_d"] as const;
  override readonly otherParamNames = ["veraDropout", "projections"] as const;
  readonly veraDropout = new Map<string, number>();
  readonly projections = new Map<string, { A: Tensor; B: Tensor }>();
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(base: Module) {
    super(base);
    const k = layerKind(base);
    if (k !== "linear" && k !== "conv1d") throw new PeftError(`Target module ${base.constructor.name} is not supported by VeRA. Currently, only Linear and Conv1D are supported.`);
    [this.inFeatures, this.outFeatures] = linearDims(base);
    this.registerModule("vera_lambda_b", new ParameterDict());
    this.registerModule("vera_lambda_d", new ParameterDict());
  }
  override updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext & { projection?: { A: Tensor; B: Tensor } }): void {
    const cfg = config as VeraConfig;
    if (!ctx.projection) throw new PeftError("VeraLayer.updateLayer needs the shared projections");
    this.projections.set(adapterName, ctx.projection);
    this.veraDropout.set(adapterName, cfg.veraDropout);
    const lb = Tensor.zeros([this.outFeatures]), ld = Tensor.zeros([cfg.r]);
    if (cfg.initWeights) (ld.data as Float32Array).fill(cfg.dInitial);
    else {
      (lb.data as Float32Array).fill(1);
      globalRng.fillNormal(ld.data);
    }
    this.vera_lambda_b.set(adapterName, lb.requiresGrad_());
    this.vera_lambda_d.set(adapterName, ld.requiresGrad_());
    this.setAdapter(ctx.activeAdapters);
  }
  private sliced(a: string): { A: Tensor; B: Tensor } {
    const { A, B } = this.projections.get(a)!;
    return { A: A.slice(1, 0, this.inFeatures).contiguous(), B: B.slice(0, 0, this.outFeatures).contiguous() };
  }
  override getDeltaWeight(a: string): Tensor {
    return noGrad(() => {
      const { A, B } = this.sliced(a);
      const lb = this.vera_lambda_b.get(a), ld = this.vera_lambda_d.get(a);
      return matmul(mul(B, lb.reshape([-1, 1])), mul(A, ld.reshape([-1, 1])));
    });
  }
  protected override adapterForward(x: unknown): Tensor {
    let result = callForward<Tensor>(this.base_layer, x);
    for (const a of this.activeAdapters) {
      if (!this.vera_lambda_b.has(a)) continue;
      const p = this.veraDropout.get(a) ?? 0;
      const xd = p > 0 && this.training ? dropout(x as Tensor, p, true) : (x as Tensor);
      const { A, B } = this.sliced(a);
      const h = mul(linear(xd, A), this.vera_lambda_d.get(a));
      result = add(result, mul(linear(h, B), this.vera_lambda_b.get(a)));
    }
    return result;
  }
}

/** Frozen tensors by adapter name (`vera_A.default`). */
class BufferDict extends Module {
  get(name: string): Tensor | undefined {
    return this.namedBuffers().find(([n]) => n === name)?.[1];
  }
}

export class VeraModel extends BaseTuner {
  declare vera_A: BufferDict;
  declare vera_B: BufferDict;
  constructor(model: Module) {
    super(model);
    this.registerModule("vera_A", new BufferDict());
    this.registerModule("vera_B", new BufferDict());
  }
  get prefix(): string {
    return "vera_lambda_";
  }
  protected defaultTargetModules(modelType: string | null): string[] | null {
    const m: Record<string, string[]> = { bert: ["query", "value"], roberta: ["query", "value"], llama: ["q_proj", "v_proj"], gpt2: ["c_attn"], t5: ["q", "v"], bart: ["q_proj", "v_proj"] };
    return modelType ? m[modelType] ?? null : null;
  }
  override injectAdapter(adapterName: string, config: PeftConfig): PeftConfig {
    const cfg = this.prepareAdapterConfig(config) as VeraConfig;
    let maxIn = 0, maxOut = 0;
    for (const [key, m] of this.model.namedModules()) {
      if (!key || matchTarget(targetSpec(cfg), key) !== true) continue;
      const k = layerKind(m instanceof VeraLayer ? m.getBaseLayer() : m);
      if (k !== "linear" && k !== "conv1d") continue;
      const [i, o] = linearDims(m instanceof VeraLayer ? m.getBaseLayer() : m);
      maxIn = Math.max(maxIn, i);
      maxOut = Math.max(maxOut, o);
    }
    if (maxIn > 0) {
      const rng = new Rng(cfg.projectionPrngKey);
      const A = Tensor.zeros([cfg.r, maxIn]), B = Tensor.zeros([maxOut, cfg.r]);
      rng.fillUniform(A.data, -1 / Math.sqrt(maxIn), 1 / Math.sqrt(maxIn));
      rng.fillUniform(B.data, -1 / Math.sqrt(cfg.r), 1 / Math.sqrt(cfg.r));
      this.vera_A.registerBuffer(adapterName, A);
      this.vera_B.registerBuffer(adapterName, B);
    }
    return super.injectAdapter(adapterName, cfg);
  }
  protected createAndReplace(cfg: PeftConfig, adapterName: string, target: Module, key: string): void {
    const ctx = { key, activeAdapters: this.activeAdapters, projection: { A: this.vera_A.get(adapterName)!, B: this.vera_B.get(adapterName)! } };
    this.updateOrWrap(VeraLayer, () => new VeraLayer(target), cfg, adapterName, target, ctx);
  }
  protected override extraStateEntries(adapterName: string): { memKey: string; savedKey: string; tensor: Tensor }[] {
    const A = this.vera_A.get(adapterName), B = this.vera_B.get(adapterName);
    if (!A || !B) return [];
    return [
      { memKey: `vera_A.${adapterName}`, savedKey: "vera_A", tensor: A },
      { memKey: `vera_B.${adapterName}`, savedKey: "vera_B", tensor: B },
    ];
  }
}

declare module "../registry.js" {
  interface PeftTypes {
    VERA: VeraConfig;
  }
}

registerPeftMethod({
  peftType: "VERA",
  cliName: "vera",
  cliFields: [
    // its own rank flag: VeRA's shared projections want a large r (peft's default 256), not lora_r's 8
    { flag: "vera_r", option: "r", kind: "int", default: 256, help: "VeRA: rank of the shared random projections" },
    { flag: "vera_dropout", kind: "float", default: 0, help: "VeRA: dropout on the adapter input" },
    { flag: "d_initial", kind: "float", default: 0.1, help: "VeRA: initial value of the lambda_d scaling vector" },
    { flag: "projection_prng_key", kind: "int", default: 0, help: "VeRA: seed of the shared random projections" },
    TARGET_MODULES, MODULES_TO_SAVE,
  ],
  configFromOptions: (o) => new VeraConfig(o),
  createTuner: (m) => new VeraModel(m),
});
