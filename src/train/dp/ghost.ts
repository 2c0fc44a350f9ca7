// Ghost clipping for DP-SGD (Li et al. 2022, "Large language models can be strong differentially
// private learners"; Bu et al. 2023, "Differentially private optimization on large model at small
// cost": book-keeping). One forward and one backward of the sum of the per-example losses, with a
// GradCapture (src/ops/grad_capture.ts) installed: every Linear-type op hands over its layer input x
// and output gradient gy instead of forming the weight gradient, and from them
//   ‖dW_i‖² = Σ_{t,s} (x_it·x_is)(gy_it·gy_is)    (ghost norm: two [T, T] Gram matrices per example)
// or, when T·(in + out) ≥ in·out, the per-sample gradient gy_iᵀx_i itself (cheaper then; Bu et al.'s
// mixed ghost clipping); ‖db_i‖² = ‖Σ_t gy_it‖²; an Embedding's ‖dE_i‖² = Σ_{t,s: id_t = id_s} gy_it·gy_is.
// With the per-example clip factors c_i the clipped sum is formed directly (book-keeping, no second
// backward): dW = (c ⊙ gy)ᵀ x, db = Σ c_i Σ_t gy_it, dE scattered from c ⊙ gy.
// Supported trainable parameters: weights and biases of Linear-type layers (nn.Linear, classifier
// heads, LoRA A/B, GPT-2 Conv1D) and Embedding tables, each used by one op per forward. Any other
// trainable parameter (LayerNorm, IA3 vectors, prompt embeddings, a tied weight used twice) is
// refused with an error naming it.

import type { Tensor } from "../../tensor/tensor.js";
import { PeftError, ShapeError } from "../../tensor/errors.js";
import { getBackend } from "../../backend/registry.js";
import type { GradCapture } from "../../ops/grad_capture.js";
import { clipFactors } from "./private_grads.js";

type Captured =
  | { kind: "weight"; x: Float32Array; gy: Float32Array; rows: number; inF: number; outF: number; inOut: boolean }
  | { kind: "bias"; gy: Float32Array; rows: number; outF: number }
  | { kind: "embedding"; ids: Int32Array; gy: Float32Array; rows: number; dim: number; pad: number | null };

const SUPPORTED = "ghost clipping supports the weights and biases of Linear-type layers (Linear, classifier heads, LoRA A/B, Conv1D) and Embedding tables, each used once per forward";

export class GhostClipper implements GradCapture {
  private readonly index = new Map<Tensor, number>();
  private captured: (Captured | null)[] = [];
  private batch = 0;
  /** Per-example squared norms per parameter of the current micro-batch: [B][K]. */
  norms2: number[][] = [];

  constructor(private readonly named: [string, Tensor][]) {
    named.forEach(([, p], k) => this.index.set(p, k));
  }

  /** Starts a micro-batch of `batch` examples: clears the parameters' .grad (a gradient found after the backward is one that was not captured). */
  begin(batch: number): void {
    this.batch = batch;
    this.captured = this.named.map(() => null);
    this.norms2 = Array.from({ length: batch }, () => this.named.map(() => 0));
    for (const [, p] of this.named) p.grad = null;
  }

  private slot(param: Tensor, rows: number): number {
    const k = this.index.get(param);
    if (k === undefined) return -1;
    const name = this.named[k][0];
    if (this.captured[k]) throw new PeftError(`dp_clipping "ghost": parameter '${name}' is used by more than one op in the forward (a tied or shared weight); its per-sample norm is not the sum of the uses' norms. ${SUPPORTED}; use dp_clipping "flat"`);
    if (rows % this.batch !== 0) throw new ShapeError(`dp_clipping "ghost": the op using '${name}' has ${rows} rows, not a multiple of the ${this.batch} examples of the batch`);
    return k;
  }

  linearWeight(param: Tensor, x: Float32Array, gy: Float32Array, rows: number, inF: number, outF: number, inOut: boolean): boolean {
    const k = this.slot(param, rows);
    if (k < 0) return false;
    this.captured[k] = { kind: "weight", x, gy, rows, inF, outF, inOut };
    const B = this.batch, T = rows / B;
    const be = getBackend();
    if (T * (inF + outF) < inF * outF) {
      // ghost norm: Σ (x xᵀ) ⊙ (gy gyᵀ) per example
      const gram = (a: Float32Array, n: number) => {
        const g = new Float32Array(B * T * T);
        be.matmul(a, a, g, { batch: B, m: T, n: T, k: n, transA: false, transB: true, strideA: T * n, strideB: T * n, strideOut: T * T, accumulate: false });
        return g;
      };
      const gx = gram(x, inF), gg = gram(gy, outF);
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let j = b * T * T; j < (b + 1) * T * T; j++) s += gx[j] * gg[j];
        this.norms2[b][k] = s;
      }
    } else {
      // per-sample gradients gy_iᵀ x_i [B, out, in], then their norms
      const w = new Float32Array(B * outF * inF);
      be.matmul(gy, x, w, { batch: B, m: outF, n: inF, k: T, transA: true, transB: false, strideA: T * outF, strideB: T * inF, strideOut: outF * inF, accumulate: false });
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let j = b * outF * inF; j < (b + 1) * outF * inF; j++) s += w[j] * w[j];
        this.norms2[b][k] = s;
      }
    }
    return true;
  }

  linearBias(param: Tensor, gy: Float32Array, rows: number, outF: number): boolean {
    const k = this.slot(param, rows);
    if (k < 0) return false;
    this.captured[k] = { kind: "bias", gy, rows, outF };
    const T = rows / this.batch;
    const v = new Float64Array(outF);
    for (let b = 0; b < this.batch; b++) {
      v.fill(0);
      for (let r = b * T; r < (b + 1) * T; r++) for (let o = 0; o < outF; o++) v[o] += gy[r * outF + o];
      let s = 0;
      for (let o = 0; o < outF; o++) s += v[o] * v[o];
      this.norms2[b][k] = s;
    }
    return true;
  }

  embedding(param: Tensor, ids: Int32Array, gy: Float32Array, rows: number, dim: number, pad: number | null): boolean {
    const k = this.slot(param, rows);
    if (k < 0) return false;
    this.captured[k] = { kind: "embedding", ids, gy, rows, dim, pad };
    const T = rows / this.batch;
    // each example's gradient rows: the sums of gy over its positions with the same id
    const acc = new Float64Array(T * dim);
    const slotOf = new Map<number, number>();
    for (let b = 0; b < this.batch; b++) {
      slotOf.clear();
      acc.fill(0);
      for (let r = b * T; r < (b + 1) * T; r++) {
        const id = ids[r];
        if (id === pad) continue;
        let sl = slotOf.get(id);
        if (sl === undefined) slotOf.set(id, (sl = slotOf.size));
        for (let d = 0; d < dim; d++) acc[sl * dim + d] += gy[r * dim + d];
      }
      let s = 0;
      for (let j = 0; j < slotOf.size * dim; j++) s += acc[j] * acc[j];
      this.norms2[b][k] = s;
    }
    return true;
  }

  /**
   * After the backward: refuses a trainable parameter that got a gradient outside the capture, clips
   * every example to maxGradNorm (one flat norm over all parameters) and adds the clipped sum into
   * sums[k]. Returns the examples' flat norms before clipping.
   */
  addClipped(sums: Float32Array[], maxGradNorm: number): number[] {
    this.named.forEach(([name, p]) => {
      if (p.grad) throw new PeftError(`dp_clipping "ghost" cannot clip trainable parameter '${name}' [${p.shape}]: its gradient does not come from a Linear-type or Embedding op. ${SUPPORTED}; use dp_clipping "flat" or "per_layer" (exact per-sample gradients for every parameter type), or freeze it`);
    });
    const B = this.batch;
    const c = clipFactors(this.norms2, maxGradNorm, "flat").map((f) => f[0] ?? 1);
    const be = getBackend();
    this.captured.forEach((cap, k) => {
      if (!cap) return;
      const s = sums[k];
      const T = cap.rows / B;
      if (cap.kind === "bias") {
        for (let r = 0; r < cap.rows; r++) {
          const f = c[Math.floor(r / T)];
          for (let o = 0; o < cap.outF; o++) s[o] += f * cap.gy[r * cap.outF + o];
        }
        return;
      }
      const width = cap.kind === "weight" ? cap.outF : cap.dim;
      const gs = new Float32Array(cap.rows * width);
      for (let r = 0; r < cap.rows; r++) {
        const f = cap.kind === "embedding" && cap.ids[r] === cap.pad ? 0 : c[Math.floor(r / T)];
        for (let o = 0; o < width; o++) gs[r * width + o] = f * cap.gy[r * width + o];
      }
      if (cap.kind === "embedding") {
        for (let r = 0; r < cap.rows; r++) {
          const row = cap.ids[r] * width;
          for (let d = 0; d < width; d++) s[row + d] += gs[r * width + d];
        }
        return;
      }
      const p = { batch: 1, strideA: 0, strideB: 0, strideOut: 0, accumulate: true, transA: true, transB: false };
      if (cap.inOut) be.matmul(cap.x, gs, s, { ...p, m: cap.inF, n: cap.outF, k: cap.rows });
      else be.matmul(gs, cap.x, s, { ...p, m: cap.outF, n: cap.inF, k: cap.rows });
    });
    this.captured = [];
    return this.norms2.map((n) => Math.sqrt(n.reduce((a, b) => a + b, 0)));
  }
}
