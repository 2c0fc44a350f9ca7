// torch.optim.AdamW (decoupled weight decay, bias correction, per-parameter step counts);
// the update itself is the backend's fused kernel.

import { getBackend } from "../../backend/registry.js";
import type { Tensor } from "../../tensor/tensor.js";
import { ConfigError, FormatError } from "../../tensor/errors.js";
import { Optimizer, ParamGroupInput } from "./optimizer.js";

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly kind = "adamw";
  constructor(params: ParamGroupInput[] | Tensor[], o: AdamWOptions = {}) {
    const lr = o.lr ?? 1e-3, betas = o.betas ?? [0.9, 0.999], eps = o.eps ?? 1e-8;
    if (!(lr >= 0)) throw new ConfigError(`AdamW: invalid learning rate ${lr}`);
    if (!(eps >= 0)) throw new ConfigError(`AdamW: invalid epsilon ${eps}`);
    if (!(betas[0] >= 0 && betas[0] < 1)) throw new ConfigError(`AdamW: invalid beta parameter at index 0: ${betas[0]}`);
    if (!(betas[1] >= 0 && betas[1] < 1)) throw new ConfigError(`AdamW: invalid beta parameter at index 1: ${betas[1]}`);
    super(params, { lr, betas, eps, weightDecay: o.weightDecay ?? 1e-2 });
  }
  step(): void {
    const be = getBackend();
    for (const g of this.paramGroups) {
      const [beta1, beta2] = g.betas as [number, number];
      for (const p of g.params) {
        if (!p.grad) continue;
        const s = this.stateOf(p, (st) => {
          st.buffers.set("exp_avg", new Float32Array(p.size));
          st.buffers.set("exp_avg_sq", new Float32Array(p.size));
        });
        const m = s.buffers.get("exp_avg"), v = s.buffers.get("exp_avg_sq");
        if (!m || !v || m.length !== p.size || v.length !== p.size) throw new FormatError(`AdamW: state of '${p.name}' has no exp_avg/exp_avg_sq of ${p.size} values`);
        s.step++;
        if (!p.isContiguous()) throw new ConfigError(`AdamW: parameter '${p.name}' is not contiguous`);
        be.adamw(p.data, p.grad.contiguous().data, m, v, { lr: g.lr, beta1, beta2, eps: g.eps as number, weightDecay: g.weightDecay, step: s.step });
      }
    }
  }
}
