// torch.optim.SGD: weight decay added to the gradient (L2), momentum with dampening, Nesterov.

import type { Tensor } from "../../tensor/tensor.js";
import { ConfigError } from "../../tensor/errors.js";
import { Optimizer, ParamGroupInput } from "./optimizer.js";

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

const f = Math.fround;

export class SGD extends Optimizer {
  readonly kind = "sgd";
  constructor(params: ParamGroupInput[] | Tensor[], o: SGDOptions = {}) {
    const momentum = o.momentum ?? 0, dampening = o.dampening ?? 0, nesterov = o.nesterov ?? false;
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new ConfigError("SGD: Nesterov momentum requires a momentum and zero dampening");
    super(params, { lr: o.lr ?? 1e-3, momentum, dampening, nesterov, weightDecay: o.weightDecay ?? 0 });
  }
  step(): void {
    for (const g of this.paramGroups) {
      const mom = g.momentum as number, damp = g.dampening as number, nest = g.nesterov as boolean, wd = g.weightDecay;
      const lr = f(g.lr);
      for (const p of g.params) {
        if (!p.grad) continue;
        const pd = p.data as Float32Array, gd = p.grad.contiguous().data as Float32Array;
        const s = this.stateOf(p, () => {});
        s.step++;
        let buf = s.buffers.get("momentum_buffer");
        const first = !buf;
        if (mom !== 0 && !buf) {
          buf = new Float32Array(p.size);
          s.buffers.set("momentum_buffer", buf);
        }
        for (let i = 0; i < pd.length; i++) {
          let d = gd[i];
          if (wd !== 0) d = f(d + f(wd * pd[i]));
          if (mom !== 0) {
            const b = first ? d : f(f(mom * buf![i]) + f((1 - damp) * d));
            buf![i] = b;
            d = nest ? f(d + f(mom * b)) : b;
          }
          pd[i] = f(pd[i] - f(lr * d));
        }
      }
    }
  }
}
