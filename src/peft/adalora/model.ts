// AdaLoraModel: the AdaLoRA tuner (Zhang et al. 2023). Adds the orthogonality regulariser to the
// loss, and updateAndAllocate(step) — called after the optimizer step and before the gradients
// are cleared, as in peft's loop — prunes singular values to a cubic budget schedule from sensitivity·uncertainty
// scores (peft's RankAllocator). The resulting rank_pattern is saved, and the saved factors are
// cut to it, as peft does.

import { Module } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { noGrad } from "../../tensor/autograd.js";
import { ConfigError, PeftError } from "../../tensor/errors.js";
import { add, matmul, scale, sqrt, square, sub, sum } from "../../ops/index.js";
import { BaseTuner } from "../tuner.js";
import type { PeftConfig } from "../config.js";
import { LORA_DEFAULT_TARGETS } from "../lora/model.js";
import type { AdaLoraConfig } from "./config.js";
import { AdaLoraLayer } from "./layer.js";

interface Scores {
  ipt: Float32Array;
  avg: Float32Array;
  unc: Float32Array;
}

/** Sensitivity-based rank budgeting (peft's RankAllocator), over one adapter. */
export class RankAllocator {
  private scores = new Map<string, Scores>();
  readonly initBudget: number;
  readonly targetBudget: number;
  constructor(private readonly tuner: AdaLoraModel, private readonly cfg: AdaLoraConfig, private readonly adapter: string) {
    const layers = tuner.adaLayers().filter(([, l]) => l.lora_A.has(adapter));
    this.initBudget = layers.reduce((s, [, l]) => s + l.lora_A.get(adapter).shape[0], 0);
    this.targetBudget = cfg.targetR * layers.length;
  }
  resetScores(): void {
    this.scores.clear();
  }
  /** Budget and whether to mask at `step` (warm-up, cubic decrease, final phase). */
  budgetSchedule(step: number): { budget: number; mask: boolean } {
    const { tinit, tfinal } = this.cfg;
    const total = this.cfg.totalStep!;
    if (step <= tinit) return { budget: this.initBudget, mask: false };
    if (step > total - tfinal) return { budget: this.targetBudget, mask: true };
    const c = 1 - (step - tinit) / (total - tfinal - tinit);
    return { budget: Math.trunc((this.initBudget - this.targetBudget) * c ** 3 + this.targetBudget), mask: step % this.cfg.deltaT === 0 };
  }
  /** EMA of |p·∇p| (sensitivity) and of its deviation (uncertainty) for every A, B, E entry. */
  updateScores(): void {
    const { beta1, beta2 } = this.cfg;
    for (const [key, l] of this.tuner.adaLayers()) {
      for (const n of ["lora_A", "lora_B", "lora_E"] as const) {
        if (!l[n].has(this.adapter)) continue;
        const p = l[n].get(this.adapter);
        if (!p.grad) continue;
        const name = `${key}.${n}`;
        let s = this.scores.get(name);
        if (!s) this.scores.set(name, (s = { ipt: new Float32Array(p.size), avg: new Float32Array(p.size), unc: new Float32Array(p.size) }));
        const pv = p.f32(), gv = p.grad.f32();
        for (let i = 0; i < p.size; i++) {
          s.ipt[i] = Math.abs(pv[i] * gv[i]);
          s.avg[i] = beta1 * s.avg[i] + (1 - beta1) * s.ipt[i];
          s.unc[i] = beta2 * s.unc[i] + (1 - beta2) * Math.abs(s.ipt[i] - s.avg[i]);
        }
      }
    }
  }
  private element(name: string, i: number): number {
    const s = this.scores.get(name);
    return s ? s.avg[i] * s.unc[i] : 0;
  }
  /** Zeroes the lowest-scoring singular values so that `budget` remain; returns the rank pattern. */
  maskToBudget(budget: number): Record<string, boolean[]> {
    const triplets: { key: string; score: Float32Array; E: Tensor }[] = [];
    for (const [key, l] of this.tuner.adaLayers()) {
      if (!l.lora_A.has(this.adapter)) continue;
      const A = l.lora_A.get(this.adapter), B = l.lora_B.get(this.adapter), E = l.lora_E.get(this.adapter);
      const [r, inF] = A.shape, outF = B.shape[0];
      const score = new Float32Array(r);
      for (let j = 0; j < r; j++) {
        let a = 0, b = 0;
        for (let i = 0; i < inF; i++) a += this.element(`${key}.lora_A`, j * inF + i);
        for (let o = 0; o < outF; o++) b += this.element(`${key}.lora_B`, o * r + j);
        score[j] = this.element(`${key}.lora_E`, j) + a / inF + b / outF;
      }
      triplets.push({ key, score, E });
    }
    const all = triplets.flatMap((t) => Array.from(t.score)).sort((x, y) => x - y);
    const k = this.initBudget - budget;
    const threshold = k >= 1 ? all[Math.min(k, all.length) - 1] : -Infinity;
    const pattern: Record<string, boolean[]> = {};
    noGrad(() => {
      for (const t of triplets) {
        const e = t.E.data as Float32Array;
        const keep = Array.from(t.score, (s) => !(s <= threshold));
        keep.forEach((kp, j) => {
          if (!kp) e[j] = 0;
        });
        pattern[`${t.key}.lora_E`] = keep;
      }
    });
    return pattern;
  }
  /** Re-applies a fixed rank pattern (final fine-tuning phase). */
  maskWithPattern(pattern: Record<string, boolean[]>): void {
    for (const [key, l] of this.tuner.adaLayers()) {
      const keep = pattern[`${key}.lora_E`];
      if (!keep || !l.lora_E.has(this.adapter)) continue;
      const e = l.lora_E.get(this.adapter).data as Float32Array;
      keep.forEach((kp, j) => {
        if (!kp) e[j] = 0;
      });
    }
  }
}

export class AdaLoraModel extends BaseTuner {
  private allocator: RankAllocator | null = null;
  trainableAdapterName: string | null = null;

  get prefix(): string {
    return "lora_";
  }
  protected defaultTargetModules(modelType: string | null): string[] | null {
    return modelType ? LORA_DEFAULT_TARGETS[modelType] ?? null : null;
  }
  adaLayers(): [string, AdaLoraLayer][] {
    return this.tunerLayers().filter((e): e is [string, AdaLoraLayer] => e[1] instanceof AdaLoraLayer);
  }
  protected createAndReplace(cfg: PeftConfig, adapterName: string, target: Module, key: string): void {
    this.updateOrWrap(AdaLoraLayer, () => new AdaLoraLayer(target), cfg, adapterName, target, { key, activeAdapters: this.activeAdapters });
  }
  override injectAdapter(adapterName: string, config: PeftConfig): PeftConfig {
    const c = config as AdaLoraConfig;
    if (!c.inferenceMode && this.trainableAdapterName !== null) {
      throw new ConfigError(`AdaLoraModel supports only 1 trainable adapter ('${this.trainableAdapterName}' already is); add others with inference_mode=True`);
    }
    const cfg = super.injectAdapter(adapterName, config) as AdaLoraConfig;
    if (cfg.rankPattern) this.resizeByRankPattern(cfg.rankPattern, adapterName);
    if (!cfg.inferenceMode) {
      this.trainableAdapterName = adapterName;
      this.allocator = new RankAllocator(this, cfg, adapterName);
    }
    return cfg;
  }

  /** Cuts each layer's factors to the kept singular values (ranknum keeps its old value, as peft). */
  resizeByRankPattern(pattern: Record<string, boolean[]>, adapterName: string): void {
    const cfg = this.peftConfig.get(adapterName) as AdaLoraConfig;
    noGrad(() => {
      for (const [key, l] of this.adaLayers()) {
        const keep = pattern[`${key}.lora_E`] ?? pattern[`${key}.lora_E.${adapterName}`];
        if (!keep || !l.lora_A.has(adapterName)) continue;
        const idx = keep.flatMap((k, j) => (k ? [j] : []));
        const A = l.lora_A.get(adapterName).f32(), B = l.lora_B.get(adapterName).f32(), E = l.lora_E.get(adapterName).f32();
        const r0 = E.length, inF = l.inFeatures, outF = l.outFeatures;
        const ranknum = l.ranknum.get(adapterName).f32()[0];
        l.createAdapter(adapterName, cfg, Math.max(idx.length, 0));
        const nA = l.lora_A.get(adapterName).data as Float32Array, nB = l.lora_B.get(adapterName).data as Float32Array, nE = l.lora_E.get(adapterName).data as Float32Array;
        idx.forEach((j, t) => {
          nE[t] = E[j];
          nA.set(A.subarray(j * inF, (j + 1) * inF), t * inF);
          for (let o = 0; o < outF; o++) nB[o * idx.length + t] = B[o * r0 + j];
        });
        (l.ranknum.get(adapterName).data as Float32Array)[0] = ranknum;
        l.setAdapter(this.activeAdapters.filter((a) => l.adapterNames().includes(a)));
      }
    });
  }

  /** The model's output with orth_reg_weight · mean ‖PᵀP − I‖_F added to the loss (as peft). */
  override forward(inputs: unknown): unknown {
    const out = super.forward(inputs) as { loss?: Tensor };
    if (!out || !(out.loss instanceof Tensor) || this.trainableAdapterName === null) return out;
    const cfg = this.peftConfig.get(this.trainableAdapterName) as AdaLoraConfig;
    if (cfg.orthRegWeight <= 0) throw new ConfigError("orth_reg_weight should be greater than 0");
    let reg: Tensor | null = null;
    let n = 0;
    for (const [, l] of this.adaLayers()) {
      for (const which of ["lora_A", "lora_B"] as const) {
        if (!l[which].has(this.trainableAdapterName)) continue;
        const p = l[which].get(this.trainableAdapterName);
        if (p.size === 0) continue;
        const cov = which === "lora_A" ? matmul(p, p.transpose(0, 1)) : matmul(p.transpose(0, 1), p);
        const k = cov.shape[0];
        const eye = Tensor.zeros([k, k]);
        for (let i = 0; i < k; i++) (eye.data as Float32Array)[i * k + i] = 1;
        const fro = sqrt(sum(square(sub(cov, eye))));
        reg = reg ? add(reg, fro) : fro;
        n++;
      }
    }
    if (reg && n > 0) out.loss = add(out.loss, scale(reg, cfg.orthRegWeight / n));
    return out;
  }

  /** The Trainer's hook: the budget step, while an adapter trains (as peft's loop calls update_and_allocate). */
  override onOptimizerStep(globalStep: number): void {
    if (this.trainableAdapterName !== null && this.allocator) this.updateAndAllocate(globalStep);
  }

  /** Budget step of AdaLoRA; call after optimizer.step() and before zeroing the gradients. */
  updateAndAllocate(globalStep: number): void {
    if (this.trainableAdapterName === null || !this.allocator) throw new PeftError("updateAndAllocate: no trainable AdaLoRA adapter");
    const cfg = this.peftConfig.get(this.trainableAdapterName) as AdaLoraConfig;
    const end = cfg.totalStep! - cfg.tfinal;
    if (globalStep < end) {
      this.allocator.updateScores();
      const { budget, mask } = this.allocator.budgetSchedule(globalStep);
      if (mask) cfg.rankPattern = this.allocator.maskToBudget(budget);
    } else if (globalStep === end) {
      this.allocator.updateScores();
      cfg.rankPattern = this.allocator.maskToBudget(this.allocator.budgetSchedule(globalStep).budget);
      this.allocator.resetScores();
    } else if (cfg.rankPattern) {
      this.allocator.maskWithPattern(cfg.rankPattern);
    }
  }

  /** Saved factors are cut to the rank pattern (rows of A/E, columns of B), as peft saves them. */
  override adapterStateEntries(adapterName: string): { memKey: string; savedKey: string; tensor: Tensor }[] {
    const entries = super.adapterStateEntries(adapterName);
    const pattern = (this.peftConfig.get(adapterName) as AdaLoraConfig).rankPattern;
    if (!pattern) return entries;
    return entries.map((e) => {
      const m = e.memKey.match(/^model\.(.*)\.(lora_[ABE])\./);
      if (!m) return e;
      const keep = pattern[`${m[1]}.lora_E`];
      if (!keep || e.tensor.shape[m[2] === "lora_B" ? 1 : 0] === keep.filter(Boolean).length) return e;
      const idx = keep.flatMap((k, j) => (k ? [j] : []));
      const src = e.tensor.f32();
      if (m[2] === "lora_B") {
        const [outF, r] = e.tensor.shape;
        const d = new Float32Array(outF * idx.length);
        for (let o = 0; o < outF; o++) idx.forEach((j, t) => (d[o * idx.length + t] = src[o * r + j]));
        return { ...e, tensor: new Tensor(d, [outF, idx.length]) };
      }
      const w = e.tensor.shape[1];
      const d = new Float32Array(idx.length * w);
      idx.forEach((j, t) => d.set(src.subarray(j * w, (j + 1) * w), t * w));
      return { ...e, tensor: new Tensor(d, [idx.length, w]) };
    });
  }
}
