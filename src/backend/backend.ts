// The Backend interface: the kernels every op dispatches to.
// All arrays are contiguous row-major f32 (Float32Array subarrays) unless a parameter says otherwise;
// kernels write into caller-allocated outputs and never allocate tensors themselves.
// The TS backend (src/backend/ts) is the readable reference; the native backend overrides the kernels
// it supports and falls back to TS for the rest (see supports()); so does the wasm backend (src/backend/wasm).

import type { QuantMatrix } from "../quant/format.js";

export type F32 = Float32Array;

export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "abs" | "tanh" | "sigmoid" | "relu" | "silu"
  | "gelu" /* erf form */ | "gelu_tanh" /* tanh approximation (gelu_new / gelu_pytorch_tanh) */
  | "square" | "reciprocal";

export type BinaryOp = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min";

/**
 * The additive value HF puts on masked attention scores (torch.finfo(float32).min), shared by ops and
 * both backends' attention kernels (native/src/attention.cc holds the same value as kMaskMin).
 */
export const MASK_MIN = -3.4028234663852886e38;

/** Activations with a fused bias + activation kernel (biasAct): the feed-forward up-projections' acts. */
export type BiasActOp = "gelu" | "gelu_tanh" | "relu" | "silu";

export interface MatmulParams {
  /** Number of independent products (batched matmul); 1 for a plain GEMM. */
  batch: number;
  /** out[b] (m×n) = op(a[b]) (m×k) · op(b[b]) (k×n). */
  m: number;
  n: number;
  k: number;
  /** a[b] is stored k×m (use its transpose). */
  transA: boolean;
  /** b[b] is stored n×k (use its transpose), e.g. a Linear weight [out,in]. */
  transB: boolean;
  /** Element strides between batch items (0 broadcasts one operand over the batch). */
  strideA: number;
  strideB: number;
  strideOut: number;
  /** out += product instead of out = product. */
  accumulate: boolean;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count after this update (for bias correction). */
  step: number;
}

export interface AttentionParams {
  batch: number;
  /** Query heads; kvHeads divides it (grouped-query attention shares each k/v head among heads/kvHeads query heads). */
  heads: number;
  kvHeads: number;
  tq: number;
  tk: number;
  headDim: number;
  scale: number;
  /** Query i (0-based) sees keys j ≤ i + (tk − tq). */
  causal: boolean;
  /**
   * Elements between consecutive (batch, kv head) blocks of k and v (default tk·headDim): a view of a
   * preallocated [B, Hkv, capacity, D] KV cache. Only flashAttention (the forward) reads it.
   */
  kvStride?: number;
}

/**
 * Attention dropout regenerated inside the memory-linear kernels: element idx of the [B,H,Tq,Tk]
 * probabilities gets multiplier 0 when lowbias32(lowbias32((idx + k0) mod 2³²) ^ k1) < p·2³², else
 * keepScale: exactly what dropoutMask writes at idx for the state whose first two draws are k0, k1.
 */
export interface AttentionDropout {
  k0: number;
  k1: number;
  p: number;
  keepScale: number;
}

export interface RotaryParams {
  batch: number;
  heads: number;
  seq: number;
  /** Head dim (even); the two halves pair up (HF rotate_half layout). */
  headDim: number;
  /** Element strides of x's batch, head and position dims (its head dim is contiguous). */
  strideB: number;
  strideH: number;
  strideT: number;
  /** cos/sin are [B, T, D] (one table per batch row) rather than [T, D]. */
  perBatch: boolean;
}

export interface Backend {
  readonly name: "ts" | "native" | "wasm";
  /** Whether this backend has its own implementation of a kernel (vs. the TS fallback). */
  supports(kernel: keyof KernelSet): boolean;
  /** Threads used by this backend's kernels. */
  numThreads(): number;
  /**
   * Whether matmulBf16 rounds its f32 operand to bf16 and multiplies bf16 × bf16 with f32
   * accumulation (the CPU's bf16 dot-product kernels, as PyTorch's bf16 autocast does), rather
   * than widening the bf16 weight to f32 (exact products of the stored values).
   */
  bf16RoundsInputs(): boolean;
}

export interface KernelSet {
  /** GEMM / batched GEMM in f32 (see MatmulParams). */
  matmul(a: F32, b: F32, out: F32, p: MatmulParams): void;
  /** GEMM with a bf16-stored right operand (bits in a Uint16Array), f32 accumulation. */
  matmulBf16(a: F32, b: Uint16Array, out: F32, p: MatmulParams): void;
  /**
   * GEMM with a quantised weight w ([rows, cols], src/quant/format.ts), dequantised inside the product
   * (never a full f32 copy): mode "forward" writes out[m, rows] = x[m, cols]·wᵀ, "backward" (the input
   * gradient) out[m, cols] = x[m, rows]·w. bf16: both operands rounded to bf16 (compute dtype bf16),
   * f32 accumulation.
   */
  quantMatmul(x: F32, w: QuantMatrix, out: F32, m: number, mode: "forward" | "backward", bf16: boolean): void;

  /** out[i] = op(x[i]). */
  unary(op: UnaryOp, x: F32, out: F32, alpha: number): void;
  /** gx[i] = gy[i] · op'(x[i]) (y = op(x) is given too, for ops whose derivative uses it). */
  unaryBackward(op: UnaryOp, x: F32, y: F32, gy: F32, gx: F32, alpha: number): void;
  /** out = a op b with broadcasting: out has `shape`; aStrides/bStrides are element strides per out dim (0 = broadcast). */
  binary(op: BinaryOp, a: F32, b: F32, out: F32, shape: number[], aStrides: number[], bStrides: number[]): void;
  /** out = x * alpha + beta (elementwise scalar affine). */
  affine(x: F32, out: F32, alpha: number, beta: number): void;
  /**
   * Fused bias + activation over [rows, cols]: z = x + bias (bias [cols], or null for none) is written
   * back into x (the backward needs it) and out = act(z), with act exactly unary(op)'s. out may be x.
   */
  biasAct(op: BiasActOp, x: F32, bias: F32 | null, out: F32, rows: number, cols: number): void;
  /** gx = gy · act'(z) for z from biasAct; when gBias is non-null, Σ_rows gx is accumulated (+=) into it. */
  biasActBackward(op: BiasActOp, z: F32, gy: F32, gx: F32, gBias: F32 | null, rows: number, cols: number): void;

  /** x viewed as [outer, n, inner]: out[o, i] = Σ_j x[o, j, i]. */
  sum(x: F32, out: F32, outer: number, n: number, inner: number): void;
  /** x viewed as [outer, n, inner]: out = max over j, argmax written to idx. */
  max(x: F32, out: F32, idx: Int32Array, outer: number, n: number, inner: number): void;

  /** Row softmax over the last dim of [rows, cols]. */
  softmax(x: F32, out: F32, rows: number, cols: number): void;
  /** gx = y ⊙ (gy − Σ gy⊙y) per row. */
  softmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void;
  logSoftmax(x: F32, out: F32, rows: number, cols: number): void;
  /** gx = gy − softmax(x)·Σgy per row, with y = log_softmax(x). */
  logSoftmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void;

  /** LayerNorm over the last dim; w/b may be null; mean/rstd ([rows]) are saved for backward. */
  layerNorm(x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  /** gw/gb (if non-null) are accumulated into (+=). */
  layerNormBackward(x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null, rows: number, cols: number): void;
  /** RMSNorm: out = x · rsqrt(mean(x²) + eps) · w (w may be null). */
  rmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  rmsNormBackward(x: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number): void;

  /**
   * Cross entropy per row of logits [rows, cols] against integer labels; rows whose label equals
   * ignoreIndex get loss 0. Writes per-row loss and the row's log-sum-exp lse[r] (every row), which
   * is all the backward needs besides the logits (no [rows, cols] probabilities are kept).
   * With labelSmoothing ε: loss = (1−ε)·nll + ε·mean_c(−log p_c).
   */
  crossEntropy(logits: F32, labels: Int32Array, loss: F32, lse: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void;
  /** gLogits = scale_r · (p − (1−ε)·onehot − ε/cols) with p = exp(logits − lse), scale_r = gLoss[r] (0 for ignored rows). */
  crossEntropyBackward(logits: F32, lse: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void;

  /**
   * Scaled dot-product attention. q [B,H,Tq,D], k/v [B,Hkv,Tk,D]; mask (or null) is an additive f32
   * key mask [B,Tk] (0 keep, large negative drop). Writes out [B,H,Tq,D] and probs [B,H,Tq,Tk]
   * (P = softmax(scale·QKᵀ + masks), before dropout). drop (optional) is an attention-dropout
   * multiplier [B,H,Tq,Tk] (0 or keepScale, from dropoutMask): out = (P ⊙ drop)·V. With out null only
   * probs are written (drop is then ignored): the backward recomputes P this way instead of keeping it.
   */
  attention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32 | null, probs: F32, p: AttentionParams, drop?: F32 | null): void;
  /**
   * Gradients for q, k, v (written, not accumulated) from the saved probs and the forward's drop (or
   * null): with Pd = P ⊙ drop, dV = Pdᵀ·dO, dP = (dO·Vᵀ) ⊙ drop, dS = scale·P ⊙ (dP − rowsum(dP ⊙ P)).
   */
  attentionBackward(q: F32, k: F32, v: F32, probs: F32, gOut: F32, gq: F32, gk: F32, gv: F32, p: AttentionParams, drop?: F32 | null): void;

  /**
   * Memory-linear attention (FlashAttention-2 scheme): the same result as attention(…) with out
   * = (P ⊙ drop)·V, computed by an online softmax over key blocks, without any [Tq,Tk] buffer.
   * stats [B,H,Tq,2] receives each row's score max and 1/Σexp, all the backward needs besides out.
   * A row whose visible keys are all masked (max = MASK_MIN) is uniform over all Tk keys, as in attention.
   */
  flashAttention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32, stats: F32, p: AttentionParams, drop: AttentionDropout | null): void;
  /**
   * Gradients for q, k, v (written, not accumulated) from out and stats of flashAttention, the
   * probabilities recomputed block by block: Δ = rowsum(dO ⊙ O), dS = scale·P ⊙ (dP ⊙ drop − Δ).
   */
  flashAttentionBackward(
    q: F32, k: F32, v: F32, mask: F32 | null, out: F32, stats: F32, gOut: F32, gq: F32, gk: F32, gv: F32,
    p: AttentionParams, drop: AttentionDropout | null,
  ): void;

  /**
   * Rotary embedding: out [B,H,T,D] (contiguous) = x·cos + rotate_half(x)·sin, each product rounded
   * to f32 before the sum (PyTorch's unfused form); inverse applies the transposed map (the backward).
   */
  rotary(x: F32, cos: F32, sin: F32, out: F32, p: RotaryParams, inverse: boolean): void;

  /**
   * Counter-based dropout multipliers. Draws k0 then k1 (two xoshiro128** uint32 draws) from `state`
   * (the 4-word state of a tensor/random Rng, advanced in place by exactly two draws whatever the
   * length), then for each i: h = lowbias32(lowbias32((i + k0) mod 2³²) ^ k1) and out[i] = 0 when
   * h < p·2³² (exact integer comparison; p ≤ 0 keeps all, p ≥ 1 drops all), else keepScale.
   * lowbias32(x): x ^= x>>>16; x = x·0x7feb352d; x ^= x>>>15; x = x·0x846ca68b; x ^= x>>>16 (mod 2³²).
   * Elements are independent, so backends may fill in parallel; results must be bit-identical.
   */
  dropoutMask(state: Uint32Array, out: F32, p: number, keepScale: number): void;
  /**
   * Dropout in one pass: the same two draws and multipliers as dropoutMask, out[i] = x[i] · m_i
   * (bit-identical to dropoutMask then an elementwise product; x and out have one length and may be
   * the same array).
   */
  dropoutApply(state: Uint32Array, x: F32, out: F32, p: number, keepScale: number): void;

  /** SwiGLU gate (Llama MLP): out = silu(gate) ⊙ up, all of one length. */
  siluMul(gate: F32, up: F32, out: F32): void;
  /** gGate = gy ⊙ up ⊙ silu'(gate), gUp = gy ⊙ silu(gate) (written, not accumulated). */
  siluMulBackward(gate: F32, up: F32, gy: F32, gGate: F32, gUp: F32): void;

  /** out[t, :] = weight[ids[t], :]. */
  embedding(weight: F32, ids: Int32Array, out: F32, dim: number): void;
  /** gWeight[ids[t], :] += gOut[t, :]. */
  embeddingBackward(gOut: F32, ids: Int32Array, gWeight: F32, dim: number): void;

  /** Decoupled-weight-decay Adam update, in place on p, m, v (PyTorch AdamW semantics). */
  adamw(p: F32, g: F32, m: F32, v: F32, hp: AdamWParams): void;

  /** bf16 <-> f32 conversion (round to nearest even). */
  f32ToBf16(x: F32, out: Uint16Array): void;
  bf16ToF32(x: Uint16Array, out: F32): void;
}

export type FullBackend = Backend & KernelSet;
