// Neural-network ops: softmax family, norms, embedding, dropout, attention, rotary embedding.
// Each op computes its forward with getBackend() kernels and records one gradient node.
import { Tensor, sameShape } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { compactIds, sparseGradSink } from "../tensor/sparse_grad.js";
import { Rng, globalRng } from "../tensor/random.js";
import { ShapeError } from "../tensor/errors.js";
import { getBackend } from "../backend/registry.js";
import { asTensor, assertFloat, f32Of, normDim, TensorLike } from "./util.js";
import { rowsAlong, toRowsAlong } from "./dims.js";
import { gradCapture } from "./grad_capture.js";

export { scaledDotProductAttention, setAttentionKernels } from "./attention.js";
export { applyRotary, rotaryTables } from "./rotary.js";

function softmaxLike(name: "softmax" | "logSoftmax", x: TensorLike, dim: number): Tensor {
  const t = asTensor(x);
  assertFloat(name, t);
  const d = t.ndim === 0 ? 0 : normDim(name, dim, t.ndim);
  const { data, rows, cols, restore } = rowsAlong(t, d);
  const y = new Float32Array(data.length);
  const be = getBackend();
  if (name === "softmax") be.softmax(data, y, rows, cols);
  else be.logSoftmax(data, y, rows, cols);
  const shape = t.shape;
  const out = new Tensor(restore(y), shape);
  return record(out, name, [t], (g) => {
    const gx = new Float32Array(y.length);
    const gy = toRowsAlong(g, d);
    if (name === "softmax") be.softmaxBackward(y, gy, gx, rows, cols);
    else be.logSoftmaxBackward(y, gy, gx, rows, cols);
    return [new Tensor(restore(gx), shape)];
  });
}

/** Softmax over `dim` (default last). */
export function softmax(x: TensorLike, dim = -1): Tensor {
  return softmaxLike("softmax", x, dim);
}

/** log(softmax(x)) over `dim` (default last), computed stably. */
export function logSoftmax(x: TensorLike, dim = -1): Tensor {
  return softmaxLike("logSoftmax", x, dim);
}

function checkNormParam(op: string, p: Tensor | null, cols: number, what: string, x: Tensor): void {
  if (p && (p.ndim !== 1 || p.shape[0] !== cols)) {
    throw new ShapeError(`${op}: ${what} has shape [${p.shape}]${p.name ? ` ('${p.name}')` : ""}, expected [${cols}] for input [${x.shape}]`);
  }
}

/** LayerNorm over the last dim; weight/bias [C] optional. */
export function layerNorm(x: TensorLike, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const t = asTensor(x);
  assertFloat("layerNorm", t);
  if (t.ndim === 0) throw new ShapeError("layerNorm: input must have at least one dim, got a scalar");
  const cols = t.shape[t.ndim - 1];
  checkNormParam("layerNorm", weight, cols, "weight", t);
  checkNormParam("layerNorm", bias, cols, "bias", t);
  const rows = cols === 0 ? 0 : t.size / cols;
  const xd = f32Of(t);
  const wd = weight ? f32Of(weight) : null, bd = bias ? f32Of(bias) : null;
  const out = Tensor.empty(t.shape);
  const mean = new Float32Array(rows), rstd = new Float32Array(rows);
  const be = getBackend();
  be.layerNorm(xd, wd, bd, out.data, mean, rstd, rows, cols, eps);
  const inputs = [t, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const shape = t.shape, rx = t.requiresGrad, hasW = weight !== null, hasB = bias !== null;
  const rw = weight?.requiresGrad === true, rb = bias?.requiresGrad === true;
  return record(out, "layerNorm", inputs, (g) => {
    const gx = Tensor.empty(shape);
    const gw = rw ? Tensor.zeros([cols]) : null;
    const gb = rb ? Tensor.zeros([cols]) : null;
    be.layerNormBackward(xd, wd, mean, rstd, f32Of(g), gx.data, gw ? gw.data : null, gb ? gb.data : null, rows, cols);
    const res: (Tensor | null)[] = [rx ? gx : null];
    if (hasW) res.push(gw);
    if (hasB) res.push(gb);
    return res;
  });
}

/** RMSNorm over the last dim (Llama): x · rsqrt(mean(x²)+eps) · weight. */
export function rmsNorm(x: TensorLike, weight: Tensor | null, eps = 1e-6): Tensor {
  const t = asTensor(x);
  assertFloat("rmsNorm", t);
  if (t.ndim === 0) throw new ShapeError("rmsNorm: input must have at least one dim, got a scalar");
  const cols = t.shape[t.ndim - 1];
  checkNormParam("rmsNorm", weight, cols, "weight", t);
  const rows = cols === 0 ? 0 : t.size / cols;
  const xd = f32Of(t);
  const wd = weight ? f32Of(weight) : null;
  const out = Tensor.empty(t.shape);
  const rstd = new Float32Array(rows);
  const be = getBackend();
  be.rmsNorm(xd, wd, out.data, rstd, rows, cols, eps);
  const shape = t.shape, rx = t.requiresGrad, hasW = weight !== null, rw = weight?.requiresGrad === true;
  return record(out, "rmsNorm", weight ? [t, weight] : [t], (g) => {
    const gx = Tensor.empty(shape);
    const gw = rw ? Tensor.zeros([cols]) : null;
    be.rmsNormBackward(xd, wd, rstd, f32Of(g), gx.data, gw ? gw.data : null, rows, cols);
    return hasW ? [rx ? gx : null, gw] : [gx];
  });
}

/** Integer ids from a tensor (i32/i64/float) or nested arrays, with their shape. */
function idsOf(ids: Tensor | number[] | number[][]): { ids: Int32Array; shape: number[] } {
  if (ids instanceof Tensor) {
    if (ids.dtype !== "i32" && ids.dtype !== "i64") {
      const f = ids.f32();
      for (let i = 0; i < f.length; i++) {
        if (!Number.isInteger(f[i])) throw new ShapeError(`embedding: ids must be integers, found ${f[i]} at flat index ${i} (ids shape [${ids.shape}], dtype ${ids.dtype})`);
      }
    }
    return { ids: ids.i32(), shape: ids.shape.slice() };
  }
  const t = Tensor.from(ids as number[][], undefined, "i32");
  const flat = (ids as unknown[]).flat(Infinity) as number[];
  flat.forEach((v, i) => {
    if (!Number.isInteger(v)) throw new ShapeError(`embedding: ids must be integers, found ${v} at flat index ${i}`);
  });
  return { ids: t.data as Int32Array, shape: t.shape };
}

/**
 * Rows of weight [V, D] selected by integer ids (any shape) → [...ids.shape, D]; scatter-add backward.
 * With `paddingIdx` (torch's padding_idx) that row gets no gradient.
 */
export function embedding(weight: Tensor, ids: Tensor | number[] | number[][], opts: { paddingIdx?: number | null } = {}): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be [V, D], got [${weight.shape}]${weight.name ? ` ('${weight.name}')` : ""}`);
  const [V, D] = weight.shape;
  const { ids: idx, shape } = idsOf(ids);
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= V) {
      throw new ShapeError(`embedding: id ${idx[i]} at flat index ${i} is out of range for weight [${V}, ${D}]${weight.name ? ` ('${weight.name}')` : ""}`);
    }
  }
  const out = Tensor.zeros([...shape, D]);
  const be = getBackend();
  if (weight.dtype === "f32") {
    be.embedding(f32Of(weight), idx, out.data, D);
  } else {
    // frozen bf16/f16 tables: widen only the selected rows, not the whole vocabulary
    const o = out.data as Float32Array;
    for (let t = 0; t < idx.length; t++) o.set(weight.select(0, idx[t]).f32(), t * D);
  }
  const pad = opts.paddingIdx ?? null;
  // the row that gets no gradient (torch's padding_idx), when it is a row of this table
  const padRow = pad !== null && pad >= 0 && pad < V ? pad : null;
  return record(out, "embedding", [weight], (g) => {
    if (gradCapture()?.embedding(weight, idx, f32Of(g), idx.length, D, padRow)) return [null];
    const sink = weight.gradFn ? undefined : sparseGradSink(weight);
    if (sink) {
      // row-sparse: the touched rows only (src/tensor/sparse_grad.ts); the padding row gets none
      const { ids, slots } = compactIds(idx, V, padRow);
      const rows = new Float32Array(ids.length * D);
      const gf = f32Of(g);
      for (let t = 0; t < slots.length; t++) {
        const s = slots[t];
        if (s < 0) continue;
        const src = t * D, dst = s * D;
        for (let j = 0; j < D; j++) rows[dst + j] += gf[src + j];
      }
      sink({ ids, rows, width: D });
      return [null];
    }
    const gw = Tensor.zeros([V, D]);
    be.embeddingBackward(f32Of(g), idx, gw.data, D);
    if (padRow !== null) gw.data.fill(0, padRow * D, (padRow + 1) * D);
    return [gw];
  });
}

/** Inverted dropout: zeroes with probability p and scales survivors by 1/(1−p); identity when !training or p=0. */
export function dropout(x: TensorLike, p: number, training: boolean, rng: Rng = globalRng): Tensor {
  const t = asTensor(x);
  if (!(p >= 0 && p <= 1)) throw new ShapeError(`dropout: probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return t;
  assertFloat("dropout", t);
  const n = t.size;
  // the mask holds the multiplier (0 or 1/(1−p)); p = 1 drops everything, as torch does
  const keepScale = p === 1 ? 0 : 1 / (1 - p);
  // one pass each way: the mask is recomputed from the generator state (counter-based), never stored
  const draw = rng.dropoutDraw(n, p, keepScale);
  const shape = t.shape;
  const out = Tensor.empty(shape);
  draw.apply(f32Of(t), out.data);
  return record(out, "dropout", [t], (g) => {
    const gx = Tensor.empty(shape);
    draw.apply(f32Of(g), gx.data);
    return [gx];
  });
}


/**
 * SwiGLU gating: silu(gate) ⊙ up (Llama/Mistral/Qwen2 MLP) as one op. Same value as
 * mul(silu(gate), up) up to rounding; only gate and up are kept for backward (the unfused form also
 * keeps the silu output, one more [tokens, intermediate] buffer per layer).
 */
export function siluMul(gate: TensorLike, up: TensorLike): Tensor {
  const g = asTensor(gate), u = asTensor(up);
  assertFloat("siluMul", g);
  assertFloat("siluMul", u);
  if (!sameShape(g.shape, u.shape)) {
    throw new ShapeError(`siluMul: gate [${g.shape}] and up [${u.shape}] must have the same shape`);
  }
  const gd = f32Of(g), ud = f32Of(u);
  const out = Tensor.empty(g.shape);
  const be = getBackend();
  be.siluMul(gd, ud, out.data);
  const shape = g.shape, rg = g.requiresGrad, ru = u.requiresGrad;
  return record(out, "siluMul", [g, u], (grad) => {
    const gg = Tensor.empty(shape), gu = Tensor.empty(shape);
    be.siluMulBackward(gd, ud, f32Of(grad), gg.data, gu.data);
    return [rg ? gg : null, ru ? gu : null];
  });
}
