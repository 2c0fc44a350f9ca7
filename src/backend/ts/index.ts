// The TS reference backend: every kernel as plain loops over Float32Arrays.
import type { FullBackend, KernelSet } from "../backend.js";
import { matmul, matmulBf16 } from "./matmul.js";
import { affine, biasAct, biasActBackward, binary, unary, unaryBackward } from "./elementwise.js";
import * as reduce from "./reduce.js";
import * as nn from "./nn.js";
import { quantMatmulVia } from "../../quant/quant_gemm.js";
import "../../quant/formats.js";

export const tsKernels: KernelSet = {
  matmul,
  matmulBf16,
  quantMatmul: (x, w, out, m, mode, bf16) => quantMatmulVia(matmul, x, w, out, m, mode, bf16),
  unary,
  unaryBackward,
  binary,
  affine,
  biasAct,
  biasActBackward,
  ...reduce,
  ...nn,
};

export const tsBackend: FullBackend = {
  name: "ts",
  supports: () => true,
  numThreads: () => 1,
  // the reference widens bf16 weights to f32
  bf16RoundsInputs: () => false,
  ...tsKernels,
};
