// Activations by HF name (ACT2FN): as a function, and as the fused bias kernel op where there is one.
import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";
import type { BiasActOp } from "../ops/index.js";

/** Activation by HF name (ACT2FN). */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case "gelu":
      return (x) => ops.gelu(x, "none");
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return (x) => ops.gelu(x, "tanh");
    case "relu":
      return (x) => ops.relu(x);
    case "silu":
    case "swish":
      return (x) => ops.silu(x);
    case "tanh":
      return (x) => ops.tanh(x);
    default:
      throw new ConfigError(`activation '${name}' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh)`);
  }
}

/** The activation of a fused bias kernel for an HF activation name (ACT2FN), or null when there is none. */
export function fusedActivation(name: string): BiasActOp | null {
  switch (name) {
    case "gelu":
      return "gelu";
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return "gelu_tanh";
    case "relu":
      return "relu";
    case "silu":
    case "swish":
      return "silu";
    default:
      return null;
  }
}
