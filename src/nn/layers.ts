// Basic layers with PyTorch's parameter names and default initialisation.
import { Tensor } from "../tensor/tensor.js";
import { globalRng, Rng } from "../tensor/random.js";
import { Module } from "./module.js";
import { linear } from "../ops/matmul.js";
import { activate } from "../ops/elementwise.js";
import { Conv1D } from "./conv1d.js";
import type { BiasActOp } from "../ops/elementwise.js";
import { dropout, embedding, layerNorm, rmsNorm } from "../ops/nn.js";
import type { TensorLike } from "../ops/util.js";
import { asTensor } from "../ops/util.js";

let deferring = false;

/**
 * Runs fn (a model constructor) with the weights of Linear and Embedding layers left unallocated:
 * they get their shape but no storage, and nothing is drawn from an Rng. Used to build a model whose
 * big layers are then replaced by tensor-parallel shards, so no rank ever holds the full weights;
 * every deferred tensor must be replaced or materialised before use (see isDeferred).
 */
export function withDeferredWeights<T>(fn: () => T): T {
  const prev = deferring;
  deferring = true;
  try {
    return fn();
  } finally {
    deferring = prev;
  }
}

/** True for a weight built under withDeferredWeights that has no storage yet. */
export function isDeferred(t: Tensor): boolean {
  return t.size > 0 && t.storage.length === 0;
}

function deferred(shape: number[]): Tensor {
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { strides[i] = acc; acc *= shape[i]; }
  return new Tensor(new Float32Array(0), shape, "f32", strides.slice(0, shape.length));
}

function uniform(shape: number[], bound: number, rng: Rng): Tensor {
  if (deferring) return deferred(shape);
  const t = Tensor.zeros(shape);
  rng.fillUniform(t.data, -bound, bound);
  return t;
}

/** nn.Linear: weight [out, in], bias [out]; kaiming-uniform(a=√5) init as PyTorch. */
export class Linear extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; rng?: Rng } = {}) {
    super();
    const rng = opts.rng ?? globalRng;
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter("weight", uniform([outFeatures, inFeatures], bound, rng).requiresGrad_());
    this.registerParameter("bias", opts.bias === false ? null : uniform([outFeatures], bound, rng).requiresGrad_());
  }
  forward(x: TensorLike): Tensor {
    return linear(asTensor(x), this.weight, this.bias);
  }
  /** act(forward(x)) with the bias add and the activation fused into one pass after the GEMM. */
  forwardAct(x: TensorLike, act: BiasActOp): Tensor {
    // a subclass with its own forward keeps it
    if (this.forward !== Linear.prototype.forward) return activate(this.forward(x), act);
    return linear(asTensor(x), this.weight, this.bias, { act });
  }
}

/**
 * act(m.forward(x)) for a feed-forward up-projection, with the bias add and the activation fused into
 * one pass after the GEMM where m allows it: a module with its own forwardAct (Linear, LoRA layers) or
 * a plain GPT-2 Conv1D. Any other module (other adapter layers, wrappers, subclasses with their own
 * forward) gets the two-step form, so the result is the same either way up to float rounding.
 */
export function forwardAct(m: Module, x: Tensor, act: BiasActOp): Tensor {
  const own = (m as { forwardAct?: (x: Tensor, act: BiasActOp) => Tensor }).forwardAct;
  if (typeof own === "function") return own.call(m, x, act);
  if (m instanceof Conv1D && m.forward === Conv1D.prototype.forward && x.shape[x.ndim - 1] === m.nx) {
    return linear(x, m.weight, m.bias, { act, weightInOut: true });
  }
  const f = (m as { forward?: (x: Tensor) => Tensor }).forward;
  if (typeof f !== "function") throw new Error(`${m.constructor.name} has no forward()`);
  return activate(f.call(m, x), act);
}

/**
 * nn.Embedding: weight [num, dim] ~ N(0, 1). `gradPaddingIdx` is torch's padding_idx for the
 * gradient: that row gets none (`paddingIdx` zeroes it at construction too).
 */
export class Embedding extends Module {
  declare weight: Tensor;
  readonly gradPaddingIdx: number | null;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: { rng?: Rng; paddingIdx?: number; gradPaddingIdx?: number | null } = {}) {
    super();
    this.gradPaddingIdx = opts.gradPaddingIdx ?? null;
    if (deferring) {
      this.registerParameter("weight", deferred([numEmbeddings, embeddingDim]).requiresGrad_());
      return;
    }
    const w = Tensor.zeros([numEmbeddings, embeddingDim]);
    (opts.rng ?? globalRng).fillNormal(w.data);
    if (opts.paddingIdx !== undefined) w.data.fill(0, opts.paddingIdx * embeddingDim, (opts.paddingIdx + 1) * embeddingDim);
    this.registerParameter("weight", w.requiresGrad_());
  }
  forward(ids: Tensor | number[] | number[][]): Tensor {
    return embedding(this.weight, ids, { paddingIdx: this.gradPaddingIdx });
  }
}

export class LayerNorm extends Module {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  constructor(readonly dim: number, readonly eps = 1e-5, opts: { elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    const affine = opts.elementwiseAffine !== false;
    this.registerParameter("weight", affine ? Tensor.ones([dim]).requiresGrad_() : null);
    this.registerParameter("bias", affine && opts.bias !== false ? Tensor.zeros([dim]).requiresGrad_() : null);
  }
  forward(x: TensorLike): Tensor {
    return layerNorm(asTensor(x), this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  declare weight: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.registerParameter("weight", Tensor.ones([dim]).requiresGrad_());
  }
  forward(x: TensorLike): Tensor {
    return rmsNorm(asTensor(x), this.weight, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.1) {
    super();
  }
  forward(x: TensorLike): Tensor {
    return dropout(asTensor(x), this.p, this.training);
  }
}
