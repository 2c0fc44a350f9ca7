// transformers.optimization.Adafactor (Shazeer & Stern 2018) with HF's defaults:
// eps (1e-30, 1e-3), clip_threshold 1, decay_rate −0.8, beta1 None, scale_parameter,
// relative_step, warmup_init. Matrices (ndim ≥ 2) keep factored row/column second moments.

import type { Tensor } from "../../tensor/tensor.js";
import { ConfigError } from "../../tensor/errors.js";
import { Optimizer, ParamGroupInput } from "./optimizer.js";

export interface AdafactorOptions {
  /** Required when relativeStep is false; must be unset when it is true. */
  lr?: number | null;
  eps?: [number, number];
  clipThreshold?: number;
  decayRate?: number;
  beta1?: number | null;
  weightDecay?: number;
  scaleParameter?: boolean;
  relativeStep?: boolean;
  warmupInit?: boolean;
}

function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s) / Math.sqrt(x.length);
}

export class Adafactor extends Optimizer {
  readonly kind = "adafactor";
  constructor(params: ParamGroupInput[] | Tensor[], o: AdafactorOptions = {}) {
    const relativeStep = o.relativeStep ?? true, warmupInit = o.warmupInit ?? false;
    if (o.lr != null && relativeStep) throw new ConfigError("Adafactor: cannot combine manual `lr` and `relative_step=True` options");
    if (warmupInit && !relativeStep) throw new ConfigError("Adafactor: `warmup_init=True` requires `relative_step=True`");
    if (o.lr == null && !relativeStep) throw new ConfigError("Adafactor: `lr` is required when `relative_step=False`");
    super(params, {
      lr: o.lr ?? 0, eps: o.eps ?? [1e-30, 1e-3], clipThreshold: o.clipThreshold ?? 1.0, decayRate: o.decayRate ?? -0.8,
      beta1: o.beta1 ?? null, weightDecay: o.weightDecay ?? 0, scaleParameter: o.scaleParameter ?? true, relativeStep, warmupInit,
    });
  }

  /** HF Adafactor._get_lr. */
  private stepSize(g: Record<string, unknown>, step: number, paramRms: number): number {
    let rel = g.lr as number;
    if (g.relativeStep) {
      const minStep = g.warmupInit ? 1e-6 * step : 1e-2;
      rel = Math.min(minStep, 1.0 / Math.sqrt(step));
    }
    let scale = 1.0;
    if (g.scaleParameter) scale = Math.max((g.eps as number[])[1], paramRms);
    return scale * rel;
  }

  step(): void {
    for (const g of this.paramGroups) {
      const [eps1] = g.eps as [number, number];
      const beta1 = g.beta1 as number | null;
      for (const p of g.params) {
        if (!p.grad) continue;
        const grad = p.grad.contiguous().data as Float32Array;
        const pd = p.data as Float32Array;
        const shape = p.shape;
        const factored = shape.length >= 2;
        const C = shape[shape.length - 1], R = factored ? shape[shape.length - 2] : 1;
        const B = factored ? p.size / (R * C) : 1;
        const s = this.stateOf(p, (st) => {
          if (beta1 !== null) st.buffers.set("exp_avg", new Float32Array(p.size));
          if (factored) {
            st.buffers.set("exp_avg_sq_row", new Float32Array(B * R));
            st.buffers.set("exp_avg_sq_col", new Float32Array(B * C));
          } else st.buffers.set("exp_avg_sq", new Float32Array(p.size));
          st.scalars.RMS = 0;
        });
        s.step++;
        s.scalars.RMS = rms(pd);
        const lr = this.stepSize(g, s.step, s.scalars.RMS);
        const beta2t = 1.0 - Math.pow(s.step, g.decayRate as number);
        const update = new Float32Array(p.size);
        for (let i = 0; i < update.length; i++) update[i] = grad[i] * grad[i] + eps1;
        if (factored) {
          const row = s.buffers.get("exp_avg_sq_row")!, col = s.buffers.get("exp_avg_sq_col")!;
          for (let b = 0; b < B; b++) {
            for (let r = 0; r < R; r++) {
              let m = 0;
              for (let c = 0; c < C; c++) m += update[(b * R + r) * C + c];
              row[b * R + r] = row[b * R + r] * beta2t + (m / C) * (1 - beta2t);
            }
            for (let c = 0; c < C; c++) {
              let m = 0;
              for (let r = 0; r < R; r++) m += update[(b * R + r) * C + c];
              col[b * C + c] = col[b * C + c] * beta2t + (m / R) * (1 - beta2t);
            }
            // _approx_sq_grad: rsqrt(row / mean(row)) ⊗ rsqrt(col)
            let rowMean = 0;
            for (let r = 0; r < R; r++) rowMean += row[b * R + r];
            rowMean /= R;
            for (let r = 0; r < R; r++) {
              const rf = 1 / Math.sqrt(row[b * R + r] / rowMean);
              for (let c = 0; c < C; c++) {
                const i = (b * R + r) * C + c;
                update[i] = rf * (1 / Math.sqrt(col[b * C + c])) * grad[i];
              }
            }
          }
        } else {
          const v = s.buffers.get("exp_avg_sq")!;
          for (let i = 0; i < v.length; i++) {
            v[i] = v[i] * beta2t + update[i] * (1 - beta2t);
            update[i] = (1 / Math.sqrt(v[i])) * grad[i];
          }
        }
        const denom = Math.max(rms(update) / (g.clipThreshold as number), 1.0);
        for (let i = 0; i < update.length; i++) update[i] = (update[i] / denom) * lr;
        let upd: Float32Array = update;
        if (beta1 !== null) {
          const m = s.buffers.get("exp_avg")!;
          for (let i = 0; i < m.length; i++) m[i] = m[i] * beta1 + update[i] * (1 - beta1);
          upd = m;
        }
        const wd = g.weightDecay;
        for (let i = 0; i < pd.length; i++) {
          if (wd !== 0) pd[i] += pd[i] * (-wd * lr);
          pd[i] -= upd[i];
        }
      }
    }
  }
}
