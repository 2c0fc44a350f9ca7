// Reference cross-entropy kernels (per-row loss, label smoothing, ignore index).
import type { F32 } from "../backend.js";

export function crossEntropy(logits: F32, labels: Int32Array, loss: F32, probs: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
  const eps = labelSmoothing;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (logits[o + c] > mx) mx = logits[o + c];
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(logits[o + c] - mx);
      probs[o + c] = e;
      s += e;
    }
    const lse = mx + Math.log(s);
    const inv = 1 / s;
    for (let c = 0; c < cols; c++) probs[o + c] *= inv;
    const y = labels[r];
    if (y === ignoreIndex) {
      loss[r] = 0;
      continue;
    }
    const nll = lse - logits[o + y];
    if (eps === 0) {
      loss[r] = nll;
      continue;
    }
    // smoothing term: mean over classes of −log p_c = lse − mean(logits)
    let sl = 0;
    for (let c = 0; c < cols; c++) sl += logits[o + c];
    loss[r] = (1 - eps) * nll + eps * (lse - sl / cols);
  }
}

export function crossEntropyBackward(probs: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
  const eps = labelSmoothing;
  const u = eps / cols;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const y = labels[r];
    if (y === ignoreIndex) {
      gLogits.fill(0, o, o + cols);
      continue;
    }
    const g = gLoss[r];
    for (let c = 0; c < cols; c++) gLogits[o + c] = g * (probs[o + c] - u);
    gLogits[o + y] -= g * (1 - eps);
  }
}
