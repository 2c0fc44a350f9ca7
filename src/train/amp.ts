// Mixed precision for training on CPU.
// fp16: torch.cuda.amp.GradScaler's dynamic loss scaling (init 2^16, ×2 every 2000 clean steps,
//   ×0.5 and the optimizer step skipped when a gradient is inf/NaN). Compute stays f32 in our
//   kernels (f16 matmul does not pay on CPU); what fp16 changes is loss scaling and the storage
//   of frozen weights (f16, widened on read).
// bf16: frozen Linear weights are stored bf16 (the GEMM reads them directly, f32 accumulation);
//   no loss scaling is needed (bf16 has f32's exponent range).

import type { Module } from "../nn/module.js";
import { Linear, Embedding } from "../nn/layers.js";
import type { Tensor } from "../tensor/tensor.js";

export interface GradScalerState {
  scale: number;
  growth_tracker: number;
}

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  enabled?: boolean;
}

export class GradScaler {
  scale: number;
  growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  /** Whether the last unscale found inf/NaN (the step must be skipped). */
  foundInf = false;
  constructor(o: GradScalerOptions = {}) {
    this.scale = o.initScale ?? 2 ** 16;
    this.growthFactor = o.growthFactor ?? 2.0;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    this.enabled = o.enabled ?? true;
  }
  /** The factor the loss is multiplied by before backward. */
  lossFactor(): number {
    return this.enabled ? this.scale : 1;
  }
  /** Divides the gradients by the scale (f32, as torch's _amp_foreach_non_finite_check_and_unscale_); records inf/NaN. */
  unscale(grads: Float32Array[]): boolean {
    this.foundInf = false;
    if (!this.enabled) return false;
    const inv = Math.fround(1 / this.scale);
    for (const g of grads) {
      for (let i = 0; i < g.length; i++) {
        const v = Math.fround(g[i] * inv);
        if (!Number.isFinite(v)) this.foundInf = true;
        g[i] = v;
      }
    }
    return this.foundInf;
  }
  /** After the (possibly skipped) step: back off on inf, grow after growthInterval clean steps. */
  update(): void {
    if (!this.enabled) return;
    if (this.foundInf) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
    } else {
      this.growthTracker++;
      if (this.growthTracker === this.growthInterval) {
        this.scale *= this.growthFactor;
        this.growthTracker = 0;
      }
    }
  }
  stateDict(): GradScalerState {
    return { scale: this.scale, growth_tracker: this.growthTracker };
  }
  loadStateDict(s: GradScalerState): void {
    this.scale = s.scale;
    this.growthTracker = s.growth_tracker;
  }
}

/**
 * Stores every frozen (requiresGrad false) Linear/Embedding weight in `dtype` (bf16 or f16),
 * through Module.setParameter; trainable parameters stay f32. Returns how many were converted.
 */
export function storeFrozenWeights(model: Module, dtype: "bf16" | "f16"): number {
  let n = 0;
  const seen = new Set<Tensor>();
  const mods = model.namedModules();
  // how many modules own each tensor as a registered parameter (tied weights: more than one)
  const owners = new Map<Tensor, number>();
  for (const [, m] of mods) for (const [, t] of m.ownParameters()) if (t) owners.set(t, (owners.get(t) ?? 0) + 1);
  for (const [, m] of mods) {
    if (!(m instanceof Linear || m instanceof Embedding)) continue;
    const w = m.ownParameters().find(([k]) => k === "weight")?.[1];
    if (!w || w.requiresGrad || w.dtype !== "f32" || seen.has(w) || (owners.get(w) ?? 0) > 1) continue;
    seen.add(w);
    const low = w.detach().to(dtype);
    low.name = w.name;
    m.setParameter("weight", low);
    n++;
  }
  return n;
}
