// QuantLinear: a frozen nn.Linear whose weight is stored quantised (int8 / NF4 / FP4, src/quant),
// with an optional f32 bias. Forward and the input gradient dequantise inside the GEMM (ops
// quantLinear); the weight has no gradient. bitsandbytes' Linear8bitLt / Linear4bit play this role
// in transformers; adapters (LoRA, …) wrap it as they wrap Linear.
import { Tensor } from "../tensor/tensor.js";
import { Module } from "./module.js";
import { Linear, withDeferredWeights } from "./layers.js";
import { quantLinear } from "../ops/quant_linear.js";
import { asTensor, TensorLike } from "../ops/util.js";
import { dequantize, getQuantFormat, quantMatrixBytes } from "../quant/format.js";
import type { QuantMatrix, QuantizeOptions } from "../quant/format.js";
import "../quant/formats.js";

export type ComputeDtype = "f32" | "bf16";

export class QuantLinear extends Module {
  declare bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Re-quantisation error of the last merge into this layer (peft/quant_merge.ts). */
  lastRequantError: { maxAbsError: number; relFrobeniusError: number } | null = null;
  constructor(public qweight: QuantMatrix, bias: Tensor | null, public computeDtype: ComputeDtype = "f32", public quantOptions: QuantizeOptions = {}) {
    super();
    this.inFeatures = qweight.cols;
    this.outFeatures = qweight.rows;
    this.registerParameter("bias", bias);
  }
  /** Quantises a Linear's weight (its bias is kept in f32, frozen). */
  static fromLinear(lin: Linear, format: string, opts: QuantizeOptions & { computeDtype?: ComputeDtype } = {}): QuantLinear {
    const w = lin.weight;
    const q = getQuantFormat(format).quantize(w.f32(), w.shape[0], w.shape[1], opts);
    const bias = lin.bias ? new Tensor(Float32Array.from(lin.bias.f32()), lin.bias.shape) : null;
    const ql = new QuantLinear(q, bias, opts.computeDtype ?? "f32", { blockSize: opts.blockSize, doubleQuant: opts.doubleQuant });
    if (bias && lin.bias?.name) bias.name = lin.bias.name;
    return ql;
  }
  get format(): string {
    return this.qweight.format;
  }
  forward(x: TensorLike): Tensor {
    return quantLinear(asTensor(x), this.qweight, this.bias, { computeDtype: this.computeDtype });
  }
  /** The weight in f32 [out, in] (for merging; the GEMMs never build it). */
  dequantizedWeight(): Float32Array {
    return dequantize(this.qweight);
  }
  /** A plain f32 Linear with the dequantised weight and the bias (merge into a full-precision model). */
  toLinear(): Linear {
    const lin = withDeferredWeights(() => new Linear(this.inFeatures, this.outFeatures, { bias: this.bias !== null }));
    lin.registerParameter("weight", new Tensor(this.dequantizedWeight(), [this.outFeatures, this.inFeatures]));
    if (this.bias) {
      const b = new Tensor(Float32Array.from(this.bias.f32()), this.bias.shape);
      b.requiresGrad = this.bias.requiresGrad;
      lin.registerParameter("bias", b);
    }
    return lin;
  }
  /** Bytes of the stored weight (codes + constants) and bias. */
  weightBytes(): number {
    return quantMatrixBytes(this.qweight) + (this.bias ? this.bias.size * 4 : 0);
  }
}
