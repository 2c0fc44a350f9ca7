// y = x·Wᵀ + b with a quantised frozen W (src/quant): the backend's quantMatmul dequantises W inside
// the GEMM for the forward and for the input gradient of the backward; W never gets a gradient.
import { Tensor } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { getBackend } from "../backend/registry.js";
import { ShapeError } from "../tensor/errors.js";
import type { QuantMatrix } from "../quant/format.js";
import { asTensor, f32Of, TensorLike } from "./util.js";

export interface QuantLinearOptions {
  /** Compute dtype: "bf16" rounds both GEMM operands to bf16 (f32 accumulation), as bitsandbytes' bnb_4bit_compute_dtype. */
  computeDtype?: "f32" | "bf16";
  /** Name for error messages. */
  name?: string;
}

export function quantLinear(x: TensorLike, w: QuantMatrix, bias: Tensor | null | undefined, opts: QuantLinearOptions = {}): Tensor {
  const tx = asTensor(x);
  const inF = w.cols, outF = w.rows;
  if (tx.shape[tx.ndim - 1] !== inF) {
    throw new ShapeError(`quantLinear: input [${tx.shape}] does not fit the ${w.format} weight [${outF}, ${inF}]${opts.name ? ` ('${opts.name}')` : ""} (expected last dim ${inF})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new ShapeError(`quantLinear: bias [${bias.shape}] does not fit weight [${outF}, ${inF}]`);
  const bf16 = opts.computeDtype === "bf16";
  const rows = tx.size / inF;
  const be = getBackend();
  const out = Tensor.empty([...tx.shape.slice(0, -1), outF]);
  be.quantMatmul(f32Of(tx), w, out.data, rows, "forward", bf16);
  if (bias) be.binary("add", out.data, f32Of(bias), out.data, [rows, outF], [outF, 1], [0, 1]);
  const inputs = bias ? [tx, bias] : [tx];
  const xShape = tx.shape;
  return record(out, "quant_linear", inputs, (g) => {
    const gd = f32Of(g);
    let gx: Tensor | null = null, gb: Tensor | null = null;
    if (tx.requiresGrad) {
      gx = Tensor.empty(xShape);
      be.quantMatmul(gd, w, gx.data, rows, "backward", bf16);
    }
    if (bias && bias.requiresGrad) {
      gb = Tensor.zeros(bias.shape);
      be.sum(gd, gb.data, 1, rows, outF);
    }
    return bias ? [gx, gb] : [gx];
  });
}
