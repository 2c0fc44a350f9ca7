// Losses: cross entropy (ignore_index, label smoothing), MSE, KL divergence, cosine similarity.
// Reductions follow torch.nn.functional exactly (including what "mean" divides by).
import { Tensor } from "../tensor/tensor.js";
import { allocF32Uninit } from "../tensor/dtype.js";
import { isGradEnabled, record } from "../tensor/autograd.js";
import { ShapeError } from "../tensor/errors.js";
import { getBackend } from "../backend/registry.js";
import { asTensor, assertFloat, broadcastShapes, f32Of, normDim, TensorLike } from "./util.js";
import { rowsAlong } from "./dims.js";
import { mean, sum } from "./reduce.js";
import { square, sub } from "./elementwise.js";

export type Reduction = "mean" | "sum" | "none";

function labelsOf(labels: Tensor | number[] | number[][] | Int32Array): { data: Int32Array; shape: number[] } {
  if (labels instanceof Tensor) return { data: labels.i32(), shape: labels.shape.slice() };
  // nested arrays ([B, T] labels) are accepted too
  if (Array.isArray(labels) && Array.isArray(labels[0])) {
    const t = Tensor.from(labels as never, undefined, "i32");
    return { data: t.data as Int32Array, shape: t.shape };
  }
  const data = labels instanceof Int32Array ? labels : Int32Array.from(labels as number[]);
  return { data, shape: [data.length] };
}

/** Rows whose label is not ignoreIndex; a label outside [0, classes) is an error naming the op, row and context. */
function countLabels(op: string, labels: Int32Array, classes: number, ignoreIndex: number, context: string): number {
  let count = 0;
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r];
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= classes) throw new ShapeError(`${op}: label ${y} at row ${r} is out of range for ${classes} classes (${context}ignoreIndex ${ignoreIndex})`);
    count++;
  }
  return count;
}

/**
 * Cross entropy of logits [N, C] (or [..., C], flattened) against integer labels [N] (or [...]).
 * Labels equal to ignoreIndex (default −100) contribute nothing; "mean" divides by the number of
 * non-ignored labels (PyTorch semantics; NaN when every label is ignored, as in PyTorch).
 * labelSmoothing ε as torch.nn.functional.cross_entropy: (1−ε)·nll + ε·mean_c(−log p_c).
 */
export function crossEntropy(logits: Tensor, labels: Tensor | number[] | number[][] | Int32Array, opts: { ignoreIndex?: number; labelSmoothing?: number; reduction?: Reduction } = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? "mean";
  assertFloat("crossEntropy", logits);
  if (logits.ndim < 1) throw new ShapeError(`crossEntropy: logits must be [..., C], got a scalar`);
  if (!(eps >= 0 && eps <= 1)) throw new ShapeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const C = logits.shape[logits.ndim - 1];
  const rows = C === 0 ? 0 : logits.size / C;
  const { data: lab, shape: labShape } = labelsOf(labels);
  if (lab.length !== rows) {
    throw new ShapeError(`crossEntropy: ${lab.length} labels (shape [${labShape}]) for logits [${logits.shape}] (${rows} rows of ${C} classes)`);
  }
  const count = countLabels("crossEntropy", lab, C, ignoreIndex, `logits [${logits.shape}], `);
  const be = getBackend();
  const loss = new Float32Array(rows);
  // per-row log-sum-exp only: the backward recomputes softmax from the logits (no [rows, C] buffer kept)
  const lse = new Float32Array(rows);
  const ld = f32Of(logits);
  be.crossEntropy(ld, lab, loss, lse, rows, C, ignoreIndex, eps);
  let out: Tensor;
  if (reduction === "none") {
    out = new Tensor(loss, logits.shape.slice(0, -1));
  } else {
    const s = sumOf(loss);
    out = Tensor.scalar(reduction === "mean" ? s / count : s);
  }
  const shape = logits.shape;
  return record(out, "crossEntropy", [logits], (g) => {
    const gd = f32Of(g);
    const gLoss = new Float32Array(rows);
    if (reduction === "none") gLoss.set(gd);
    else gLoss.fill(reduction === "mean" ? gd[0] / count : gd[0]);
    const gl = Tensor.empty(shape);
    be.crossEntropyBackward(ld, lse, lab, gLoss, gl.data, rows, C, ignoreIndex, eps);
    return [gl];
  });
}

function reduce(x: Tensor, reduction: Reduction, op: string): Tensor {
  if (reduction === "none") return x;
  if (reduction === "sum") return sum(x);
  if (reduction === "mean") return mean(x);
  throw new ShapeError(`${op}: unknown reduction '${reduction}' (expected mean, sum or none)`);
}

/** Mean squared error (input and target broadcast, as torch does). */
export function mseLoss(input: TensorLike, target: TensorLike, reduction: Reduction = "mean"): Tensor {
  return reduce(square(sub(input, target)), reduction, "mseLoss");
}

/**
 * torch.nn.functional.kl_div: input is log-probabilities, target probabilities (or log-probs with logTarget).
 * Pointwise: target·(log target − input) with 0 where target = 0 (xlogy), or exp(t)·(t − input).
 * reduction "mean" divides by the element count, "batchmean" divides the sum by input.shape[0].
 */
export function klDiv(input: TensorLike, target: TensorLike, opts: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {}): Tensor {
  const reduction = opts.reduction ?? "mean";
  const logTarget = opts.logTarget ?? false;
  const x = asTensor(input), t = asTensor(target);
  assertFloat("klDiv", x);
  assertFloat("klDiv", t);
  const shape = broadcastShapes("klDiv", x.shape, t.shape);
  const xe = x.expand(shape), te = t.expand(shape);
  const xd = f32Of(xe), td = f32Of(te);
  const n = xd.length;
  const pw = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const ti = td[i];
    if (logTarget) pw[i] = Math.exp(ti) * (ti - xd[i]);
    else pw[i] = ti === 0 ? -ti * xd[i] + 0 : ti * Math.log(ti) - ti * xd[i];
  }
  const rt = te.requiresGrad;
  const pointwise = record(new Tensor(pw, shape), "klDiv", [xe, te], (g) => {
    const gd = f32Of(g);
    const gx = new Float32Array(n), gt = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const ti = td[i];
      if (logTarget) {
        const e = Math.exp(ti);
        gx[i] = -gd[i] * e;
        gt[i] = gd[i] * e * (ti - xd[i] + 1);
      } else {
        gx[i] = -gd[i] * ti;
        gt[i] = ti > 0 ? gd[i] * (Math.log(ti) + 1 - xd[i]) : -gd[i] * xd[i];
      }
    }
    return [new Tensor(gx, shape), rt ? new Tensor(gt, shape) : null];
  });
  if (reduction === "batchmean") {
    const b = shape.length === 0 ? 1 : shape[0];
    const s = sum(pointwise);
    return record(Tensor.scalar(s.item() / b), "klDiv.batchmean", [s], (g) => [Tensor.scalar(g.item() / b)]);
  }
  return reduce(pointwise, reduction, "klDiv");
}

/**
 * Cosine similarity along dim (default −1), as torch computes it: Σ (a/max(‖a‖,eps))·(b/max(‖b‖,eps)).
 * (Each norm is clamped separately; the documented a·b / max(‖a‖‖b‖, eps) agrees away from zero.)
 * The clamp is not differentiated (torch applies it under no_grad), so the norm's gradient is kept.
 */
export function cosineSimilarity(a: TensorLike, b: TensorLike, dim = -1, eps = 1e-8): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  assertFloat("cosineSimilarity", ta);
  assertFloat("cosineSimilarity", tb);
  const shape = broadcastShapes("cosineSimilarity", ta.shape, tb.shape);
  if (shape.length === 0) throw new ShapeError(`cosineSimilarity: inputs [${ta.shape}] and [${tb.shape}] have no dim to reduce`);
  const d = normDim("cosineSimilarity", dim, shape.length);
  const ae = ta.expand(shape), bEx = tb.expand(shape);
  const A = rowsAlong(ae, d), Bv = rowsAlong(bEx, d);
  const { rows, cols } = A;
  const ad = A.data, bd = Bv.data;
  const na = new Float64Array(rows), nb = new Float64Array(rows), res = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sa = 0, sb = 0;
    for (let c = 0; c < cols; c++) {
      sa += ad[r * cols + c] ** 2;
      sb += bd[r * cols + c] ** 2;
    }
    na[r] = Math.sqrt(sa);
    nb[r] = Math.sqrt(sb);
    const Na = Math.max(na[r], eps), Nb = Math.max(nb[r], eps);
    let s = 0;
    for (let c = 0; c < cols; c++) s += (ad[r * cols + c] / Na) * (bd[r * cols + c] / Nb);
    res[r] = s;
  }
  const outShape = shape.filter((_, i) => i !== d);
  const out = new Tensor(res, outShape);
  return record(out, "cosineSimilarity", [ae, bEx], (g) => {
    const gd = f32Of(g);
    const ga = new Float32Array(rows * cols), gb = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const Na = Math.max(na[r], eps), Nb = Math.max(nb[r], eps);
      const o = res[r], gr = gd[r];
      // ∂/∂a = b/(Na·Nb) − out·a/(Na·‖a‖)  (second term 0 for a zero vector, like torch's norm backward)
      const ka = na[r] > 0 ? o / (Na * na[r]) : 0, kb = nb[r] > 0 ? o / (Nb * nb[r]) : 0;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        ga[i] = gr * (bd[i] / (Na * Nb) - ka * ad[i]);
        gb[i] = gr * (ad[i] / (Na * Nb) - kb * bd[i]);
      }
    }
    return [new Tensor(A.restore(ga), shape), new Tensor(Bv.restore(gb), shape)];
  });
}


/**
 * Cross entropy of logits = x·Wᵀ (mean over the labels that are not ignoreIndex, no smoothing) that
 * never holds the [rows, classes] logits or their gradient (131 MB each for 1,024 tokens × a 32k
 * vocabulary). W is [classes, in] (f32, or bf16 when frozen).
 *
 * Without `opts.logits`, the logits are computed chunk by chunk (`chunkRows` rows at a time) and,
 * when a gradient is wanted, each chunk's gradient is pushed through to x and W right away: the loss
 * is linear in its incoming gradient g, so the backward only scales the [rows, in] and [classes, in]
 * results by g (the "fused linear cross entropy" of Liger-Kernel). Same head GEMMs as the unfused
 * form (x·Wᵀ and gz·W, plus gzᵀ·x for a trainable W), no logits memory.
 *
 * With `opts.logits` (= x·Wᵀ, already computed because the caller reads them), the loss reads them and
 * the backward goes to x and W in chunks; the logits stay an ordinary graph output for other consumers.
 *
 * Same value and gradients as crossEntropy(linear(x, W), labels) up to float rounding.
 */
export function linearCrossEntropy(x: Tensor, weight: Tensor, labels: Int32Array, opts: { logits?: Tensor; ignoreIndex?: number; chunkRows?: number } = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const logits = opts.logits;
  assertFloat("linearCrossEntropy", x);
  const H = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== H) {
    throw new ShapeError(`linearCrossEntropy: weight [${weight.shape}] does not fit input [${x.shape}] (expected [classes, ${H}])`);
  }
  const V = weight.shape[0];
  const rows = H === 0 ? 0 : x.size / H;
  if (logits) {
    assertFloat("linearCrossEntropy", logits);
    if (logits.shape[logits.ndim - 1] !== V || logits.size !== rows * V) {
      throw new ShapeError(`linearCrossEntropy: logits [${logits.shape}] are not input [${x.shape}] times weight [${weight.shape}]ᵀ`);
    }
  }
  if (labels.length !== rows) throw new ShapeError(`linearCrossEntropy: ${labels.length} labels for ${rows} rows (input [${x.shape}])`);
  const count = countLabels("linearCrossEntropy", labels, V, ignoreIndex, "");
  const be = getBackend();
  const chunk = Math.max(1, Math.min(rows, opts.chunkRows ?? Math.floor(CHUNK_LOGITS / Math.max(1, V))));
  const rx = x.requiresGrad, rw = weight.requiresGrad;
  const wantGrad = isGradEnabled() && (rx || rw);
  // W as the GEMMs read it: a low-precision weight is widened once when there are several chunks
  // (a widening matmulBf16 would widen the whole weight again for every chunk: ~15 ms per pass for
  // 32k × 512); bf16 kernels that round the activations read it directly, as linear() does
  const weightOperand = (): WeightOperand => {
    if (weight.dtype === "bf16" && (rows <= chunk || be.bf16RoundsInputs())) return { wd: null, wb: weight.contiguous().data as Uint16Array };
    return { wd: f32Of(weight), wb: null };
  };
  const gemmW = (w: WeightOperand, a: Float32Array, o: Float32Array, m: number, n: number, k: number, transB: boolean) => {
    const p = { batch: 1, m, n, k, transA: false, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
    if (w.wb) be.matmulBf16(a, w.wb, o, p);
    else be.matmul(a, w.wd!, o, p);
  };
  // gz·W into gx rows, gzᵀ·x into gW: one chunk's gradient
  const pushChunk = (w: WeightOperand, gzc: Float32Array, xd: Float32Array | null, gx: Float32Array | null, gw: Float32Array | null, r0: number, c: number) => {
    if (gx) gemmW(w, gzc, gx.subarray(r0 * H, (r0 + c) * H), c, H, V, false);
    if (gw && xd) {
      be.matmul(gzc, xd.subarray(r0 * H, (r0 + c) * H), gw, { batch: 1, m: V, n: H, k: c, transA: true, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: true });
    }
  };
  const loss = new Float32Array(rows), lse = new Float32Array(rows);
  const xShape = x.shape, wShape = weight.shape;
  if (logits) {
    const ld = f32Of(logits);
    be.crossEntropy(ld, labels, loss, lse, rows, V, ignoreIndex, 0);
    const out = Tensor.scalar(sumOf(loss) / count);
    // x is kept only for the head weight's gradient
    const xSaved = rw ? f32Of(x) : null;
    return record(out, "linearCrossEntropy", [x, weight], (g) => {
      const gLoss = new Float32Array(chunk).fill(f32Of(g)[0] / count);
      const gz = allocF32Uninit(chunk * V);
      const gx = rx ? Tensor.empty(xShape) : null;
      const gw = rw ? Tensor.zeros(wShape) : null;
      const w: WeightOperand = gx ? weightOperand() : { wd: null, wb: null };
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const c = Math.min(chunk, rows - r0);
        const gzc = gz.subarray(0, c * V);
        be.crossEntropyBackward(ld.subarray(r0 * V, (r0 + c) * V), lse.subarray(r0, r0 + c), labels.subarray(r0, r0 + c), gLoss.subarray(0, c), gzc, c, V, ignoreIndex, 0);
        pushChunk(w, gzc, xSaved, gx?.data ?? null, gw?.data ?? null, r0, c);
      }
      return [gx, gw];
    });
  }
  const xd = f32Of(x);
  const w = weightOperand();
  const z = allocF32Uninit(chunk * V);
  // gradients for an incoming gradient of `count` (the mean's divisor): the backward scales by g / count
  const gx = wantGrad && rx ? allocF32Uninit(rows * H) : null;
  const gw = wantGrad && rw ? new Float32Array(V * H) : null;
  const ones = wantGrad ? new Float32Array(chunk).fill(1) : null;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const c = Math.min(chunk, rows - r0);
    const zc = z.subarray(0, c * V);
    gemmW(w, xd.subarray(r0 * H, (r0 + c) * H), zc, c, V, H, true);
    be.crossEntropy(zc, labels.subarray(r0, r0 + c), loss.subarray(r0, r0 + c), lse.subarray(r0, r0 + c), c, V, ignoreIndex, 0);
    if (!ones) continue;
    // the logits gradient in place of the logits (the kernel reads each element before writing it)
    be.crossEntropyBackward(zc, lse.subarray(r0, r0 + c), labels.subarray(r0, r0 + c), ones.subarray(0, c), zc, c, V, ignoreIndex, 0);
    pushChunk(w, zc, xd, gx, gw, r0, c);
  }
  const out = Tensor.scalar(sumOf(loss) / count);
  if (!wantGrad) return out;
  return record(out, "linearCrossEntropy", [x, weight], (g) => {
    const s = f32Of(g)[0] / count;
    const scaled = (buf: Float32Array | null, shape: readonly number[]) => {
      if (!buf) return null;
      const o = allocF32Uninit(buf.length);
      be.affine(buf, o, s, 0);
      return new Tensor(o, shape.slice());
    };
    return [scaled(gx, xShape), scaled(gw, wShape)];
  });
}

/** A head weight as linearCrossEntropy's GEMMs read it: f32 values, or bf16 bits read directly. */
type WeightOperand = { wd: Float32Array | null; wb: Uint16Array | null };

/** Logits per chunk of linearCrossEntropy (64 MB): 524 rows of a 32k vocabulary. Measured on llama-small (1,024 rows): 262-row chunks cost 8% of a LoRA step in GEMM efficiency, one 1,024-row chunk saves 2% more for 64 MB more. */
const CHUNK_LOGITS = 1 << 24;

function sumOf(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
