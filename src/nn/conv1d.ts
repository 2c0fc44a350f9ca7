// GPT-2's Conv1D: a linear layer stored transposed (weight [in, out]), y = x·W + b.
// Kept as its own module so GPT-2 checkpoints load by name and PEFT can wrap it with fan_in_fan_out.
import { Tensor } from "../tensor/tensor.js";
import { globalRng, Rng } from "../tensor/random.js";
import { Module } from "./module.js";
import { linear } from "../ops/matmul.js";
import { asTensor, TensorLike } from "../ops/util.js";
import { ShapeError } from "../tensor/errors.js";

export class Conv1D extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  /** nf = output features, nx = input features (HF's argument order). */
  constructor(readonly nf: number, readonly nx: number, opts: { bias?: boolean; rng?: Rng; std?: number } = {}) {
    super();
    const w = Tensor.zeros([nx, nf]);
    (opts.rng ?? globalRng).fillNormal(w.data, 0, opts.std ?? 0.02);
    this.registerParameter("weight", w.requiresGrad_());
    this.registerParameter("bias", opts.bias === false ? null : Tensor.zeros([nf]).requiresGrad_());
  }
  get inFeatures(): number {
    return this.nx;
  }
  get outFeatures(): number {
    return this.nf;
  }
  forward(x: TensorLike): Tensor {
    const t = asTensor(x);
    if (t.shape[t.ndim - 1] !== this.nx) {
      throw new ShapeError(`Conv1D: input [${t.shape}] does not fit weight [${this.weight.shape}]${this.weight.name ? ` ('${this.weight.name}')` : ""} (expected last dim ${this.nx})`);
    }
    // the linear op with the [in, out] layout (as forwardAct's fused path): one GEMM and the bias add,
    // and its weight gradient goes through the ops' GradCapture (DP ghost clipping)
    return linear(t, this.weight, this.bias, { weightInOut: true });
  }
}
