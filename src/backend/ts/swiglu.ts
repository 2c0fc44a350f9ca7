// Reference SwiGLU gating kernels: out = silu(gate) · up and its two input gradients.
import type { F32 } from "../backend.js";

export function siluMul(gate: F32, up: F32, out: F32): void {
  for (let i = 0; i < out.length; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

export function siluMulBackward(gate: F32, up: F32, gy: F32, gGate: F32, gUp: F32): void {
  for (let i = 0; i < gy.length; i++) {
    const g = gate[i], s = 1 / (1 + Math.exp(-g));
    gUp[i] = gy[i] * g * s;
    gGate[i] = gy[i] * up[i] * s * (1 + g * (1 - s));
  }
}
