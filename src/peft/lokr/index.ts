// LoKr (LyCORIS): ΔW = kron(W1, W2) · alpha/r, with W1 [out_l, in_m] and W2 [out_k, in_n] from
// peft's factorization of in/out features; either factor may itself be low-rank (…_a·…_b).
// peft names: lokr_w1 | lokr_w1_a, lokr_w1_b; lokr_w2 | lokr_w2_a, lokr_w2_b.

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { PeftError } from "../../tensor/errors.js";
import { matmul, mul, scale } from "../../ops/index.js";
import { ParameterDict } from "../containers.js";
import { registerPeftMethod } from "../registry.js";
import { LYCORIS_CLI_FIELDS, LYCORIS_DEFAULTS, LycorisConfig, LycorisConfigOptions, LycorisLayer, LycorisTuner, kaimingUniform } from "../lycoris.js";

export interface LoKrConfigOptions extends LycorisConfigOptions {
  /** Also decompose the left Kronecker factor into a low-rank product. */
  decomposeBoth?: boolean;
  /** Preferred factor for splitting dimensions (-1: as square as possible). */
  decomposeFactor?: number;
  rankDropoutScale?: boolean;
}

export class LoKrConfig extends LycorisConfig {
  declare decomposeBoth: boolean;
  declare decomposeFactor: number;
  declare rankDropoutScale: boolean;
  constructor(opts: LoKrConfigOptions = {}) {
    super("LOKR", { ...LYCORIS_DEFAULTS, decomposeBoth: false, decomposeFactor: -1, rankDropoutScale: false }, opts);
    this.validate();
  }
}

/** peft's factorization(dimension, factor): m·n = dimension, m ≤ n, as close as allowed. */
export function factorization(dimension: number, factor = -1): [number, number] {
  if (factor > 0 && dimension % factor === 0) {
    let m = factor, n = dimension / factor;
    if (m > n) [m, n] = [n, m];
    return [m, n];
  }
  if (factor < 0) factor = dimension;
  let m = 1, n = dimension;
  const length = m + n;
  while (m < n) {
    let nm = m + 1;
    while (dimension % nm !== 0) nm++;
    const nn = dimension / nm;
    if (nm + nn > length || nm > factor) break;
    m = nm;
    n = nn;
  }
  if (m > n) [m, n] = [n, m];
  return [m, n];
}

/** kron(A [a,b], B [c,d]) = [a·c, b·d] with autograd (broadcast product of views). */
export function kron(A: Tensor, B: Tensor): Tensor {
  const [a, b] = A.shape, [c, d] = B.shape;
  return mul(A.reshape([a, 1, b, 1]), B.reshape([1, c, 1, d])).reshape([a * c, b * d]);
}

export class LoKrLayer extends LycorisLayer {
  declare lokr_w1: ParameterDict;
  declare lokr_w1_a: ParameterDict;
  declare lokr_w1_b: ParameterDict;
  declare lokr_w2: ParameterDict;
  declare lokr_w2_a: ParameterDict;
  declare lokr_w2_b: ParameterDict;
  readonly adapterLayerNames = ["lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b"] as const;
  constructor(base: Module) {
    super(base, "LoKr");
    for (const n of this.adapterLayerNames) this.registerModule(n, new ParameterDict());
  }
  protected createFactors(a: string, r: number, config: LycorisConfig): void {
    const cfg = config as LoKrConfig;
    if (cfg.rankDropoutScale) throw new PeftError("LoKr rank_dropout_scale=true is not supported by peft-ts");
    const [inM, inN] = factorization(this.inFeatures, cfg.decomposeFactor);
    const [outL, outK] = factorization(this.outFeatures, cfg.decomposeFactor);
    const useW1 = !(cfg.decomposeBoth && r < Math.max(outL, inM) / 2);
    const useW2 = !(r < Math.max(outK, inN) / 2);
    const p = (shape: number[], random: boolean) => (random ? kaimingUniform(Tensor.zeros(shape)) : Tensor.zeros(shape)).requiresGrad_();
    const rand = !cfg.initWeights;
    if (useW1) this.lokr_w1.set(a, p([outL, inM], rand));
    else {
      this.lokr_w1_a.set(a, p([outL, r], rand));
      this.lokr_w1_b.set(a, p([r, inM], true));
    }
    if (useW2) this.lokr_w2.set(a, p([outK, inN], true));
    else {
      this.lokr_w2_a.set(a, p([outK, r], true));
      this.lokr_w2_b.set(a, p([r, inN], true));
    }
  }
  protected deltaWithGrad(a: string): Tensor {
    const w1 = this.lokr_w1.has(a) ? this.lokr_w1.get(a) : matmul(this.lokr_w1_a.get(a), this.lokr_w1_b.get(a));
    const w2 = this.lokr_w2.has(a) ? this.lokr_w2.get(a) : matmul(this.lokr_w2_a.get(a), this.lokr_w2_b.get(a));
    return scale(kron(w1, w2), this.scaling.get(a)!);
  }
}

export class LoKrModel extends LycorisTuner {
  get prefix(): string {
    return "lokr_";
  }
  protected makeLayer(target: Module): LycorisLayer {
    return new LoKrLayer(target);
  }
}

declare module "../registry.js" {
  interface PeftTypes {
    LOKR: LoKrConfig;
  }
}

registerPeftMethod({
  peftType: "LOKR",
  cliName: "lokr",
  cliFields: [
    ...LYCORIS_CLI_FIELDS,
    { flag: "decompose_both", kind: "bool", help: "LoKr: also decompose the left Kronecker factor into a low-rank product" },
    { flag: "decompose_factor", kind: "int", default: -1, help: "LoKr: preferred factor for splitting dimensions (-1: as square as possible)" },
  ],
  configFromOptions: (o) => new LoKrConfig(o),
  createTuner: (m) => new LoKrModel(m),
});
