// LoHa (FedPara / LyCORIS): ΔW = (W1a·W1b) ⊙ (W2a·W2b) · alpha/r — a Hadamard product of two
// rank-r products. peft names: hada_w1_a [out,r], hada_w1_b [r,in], hada_w2_a [out,r], hada_w2_b [r,in].

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { matmul, mul, scale } from "../../ops/index.js";
import { ParameterDict } from "../containers.js";
import { registerPeftMethod } from "../registry.js";
import { LYCORIS_CLI_FIELDS, LYCORIS_DEFAULTS, LycorisConfig, LycorisConfigOptions, LycorisLayer, LycorisTuner, kaimingUniform } from "../lycoris.js";

export class LoHaConfig extends LycorisConfig {
  constructor(opts: LycorisConfigOptions = {}) {
    super("LOHA", LYCORIS_DEFAULTS, opts);
    this.validate();
  }
}

export class LoHaLayer extends LycorisLayer {
  declare hada_w1_a: ParameterDict;
  declare hada_w1_b: ParameterDict;
  declare hada_w2_a: ParameterDict;
  declare hada_w2_b: ParameterDict;
  readonly adapterLayerNames = ["hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"] as const;
  constructor(base: Module) {
    super(base, "LoHa");
    for (const n of this.adapterLayerNames) this.registerModule(n, new ParameterDict());
  }
  protected createFactors(a: string, r: number, cfg: LycorisConfig): void {
    const [inF, outF] = [this.inFeatures, this.outFeatures];
    this.hada_w1_a.set(a, kaimingUniform(Tensor.zeros([outF, r])).requiresGrad_());
    this.hada_w1_b.set(a, kaimingUniform(Tensor.zeros([r, inF])).requiresGrad_());
    this.hada_w2_a.set(a, kaimingUniform(Tensor.zeros([outF, r])).requiresGrad_());
    const w2b = Tensor.zeros([r, inF]);
    if (!cfg.initWeights) kaimingUniform(w2b);
    this.hada_w2_b.set(a, w2b.requiresGrad_());
  }
  protected deltaWithGrad(a: string): Tensor {
    const w1 = matmul(this.hada_w1_a.get(a), this.hada_w1_b.get(a));
    const w2 = matmul(this.hada_w2_a.get(a), this.hada_w2_b.get(a));
    return scale(mul(w1, w2), this.scaling.get(a)!);
  }
}

export class LoHaModel extends LycorisTuner {
  get prefix(): string {
    return "hada_";
  }
  protected makeLayer(target: Module): LycorisLayer {
    return new LoHaLayer(target);
  }
}

declare module "../registry.js" {
  interface PeftTypes {
    LOHA: LoHaConfig;
  }
}

registerPeftMethod({
  peftType: "LOHA", cliName: "loha", cliFields: LYCORIS_CLI_FIELDS, configFromOptions: (o) => new LoHaConfig(o), createTuner: (m) => new LoHaModel(m),
});
