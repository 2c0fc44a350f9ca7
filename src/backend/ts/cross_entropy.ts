// Reference cross-entropy kernels (per-row loss, label smoothing, ignore index). The forward keeps
// only each row's log-sum-exp; the backward recomputes the probabilities from the logits.
import type { F32 } from "../backend.js";

export function crossEntropy(logits: F32, labels: Int32Array, loss: F32, lse: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
  const eps = labelSmoothing;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (logits[o + c] > mx) mx = logits[o + c];
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(logits[o + c] - mx);
    const l = mx + Math.log(s);
    lse[r] = l;
    const y = labels[r];
    if (y === ignoreIndex) {
      loss[r] = 0;
      continue;
    }
    const nll = l - logits[o + y];
    if (eps === 0) {
      loss[r] = nll;
      continue;
    }
    // smoothing term: mean over classes of −log p_c = lse − mean(logits)
    let sl = 0;
    for (let c = 0; c < cols; c++) sl += logits[o + c];
    loss[r] = (1 - eps) * nll + eps * (l - sl / cols);
  }
}

export function crossEntropyBackward(logits: F32, lse: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
  const eps = labelSmoothing;
  const u = eps / cols;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const y = labels[r];
    if (y === ignoreIndex) {
      gLogits.fill(0, o, o + cols);
      continue;
    }
    const g = gLoss[r], l = lse[r];
    for (let c = 0; c < cols; c++) gLogits[o + c] = g * (Math.exp(logits[o + c] - l) - u);
    gLogits[o + y] -= g * (1 - eps);
  }
}
