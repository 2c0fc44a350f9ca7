// LoRA layers: y = base(x) + B·A·dropout(x)·scaling for Linear and GPT-2 Conv1D (fan_in_fan_out),
// and y = base(ids) + (A_emb[ids])·Bᵀ·scaling for Embedding. DoRA (use_dora) rescales the merged
// weight row-wise: W' = m ⊙ (W + sBA)/‖W + sBA‖, with the norm detached as in the paper and peft.
// Names follow peft: lora_A.<adapter>.weight [r,in], lora_B.<adapter>.weight [out,r],
// lora_embedding_A.<adapter> [r,num], lora_embedding_B.<adapter> [dim,r],
// lora_magnitude_vector.<adapter>.weight [out].

import { Module } from "../../nn/module.js";
import { Linear, forwardAct } from "../../nn/layers.js";
import { Conv1D } from "../../nn/conv1d.js";
import { QuantLinear } from "../../nn/quant_linear.js";
import type { BiasActOp } from "../../ops/index.js";
import { Tensor } from "../../tensor/tensor.js";
import { noGrad } from "../../tensor/autograd.js";
import { globalRng } from "../../tensor/random.js";
import { PeftError } from "../../tensor/errors.js";
import { activate, add, div, embedding, linear, loraLinear, matmul, mul, scale, sub, dropout, quantLoraLinear } from "../../ops/index.js";
import { ModuleDict, ParameterDict, callForward, layerKind, linearDims, ownParam } from "../containers.js";
import { BaseTunerLayer, LayerContext, addIntoWeight } from "../tuner_layer.js";
import { weightOutIn } from "../tuner.js";
import { patternKey } from "../target_matching.js";
import { svd } from "../linalg.js";
import type { PeftConfig } from "../config.js";
import type { LoraConfig } from "./config.js";
import { VocabParallelEmbedding, isParallelLinear } from "../../nn/parallel/index.js";
import { checkParallelLora, parallelLoraForward, shardLoraPair } from "./parallel.js";

/** DoRA's trainable magnitude: one scale per output row (`lora_magnitude_vector.<a>.weight`). */
export class DoraMagnitude extends Module {
  declare weight: Tensor;
  constructor(m: Tensor) {
    super();
    this.registerParameter("weight", m.requiresGrad_());
  }
}

/** Row-wise L2 norm of W + s·Δ ([out,in] values) as a detached [out] tensor. */
function rowNorms(w: Float32Array, delta: Float32Array | null, s: number, out: number, inn: number): Tensor {
  const n = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let acc = 0;
    for (let i = 0; i < inn; i++) {
      const v = w[o * inn + i] + (delta ? s * delta[o * inn + i] : 0);
      acc += v * v;
    }
    n[o] = Math.sqrt(acc);
  }
  return new Tensor(n, [out]);
}

function fillUniform(t: Tensor, bound: number): void {
  globalRng.fillUniform(t.data as Float32Array, -bound, bound);
}

export class LoraLayer extends BaseTunerLayer {
  declare lora_A: ModuleDict<Linear>;
  declare lora_B: ModuleDict<Linear>;
  declare lora_embedding_A: ParameterDict;
  declare lora_embedding_B: ParameterDict;
  declare lora_magnitude_vector: ModuleDict<DoraMagnitude>;
  readonly adapterLayerNames = ["lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector"] as const;
  override readonly otherParamNames = ["r", "loraAlpha", "scaling", "loraDropout", "useDora", "doraFactor"] as const;
  readonly r = new Map<string, number>();
  readonly loraAlpha = new Map<string, number>();
  readonly scaling = new Map<string, number>();
  readonly loraDropout = new Map<string, number>();
  readonly useDora = new Map<string, boolean>();
  /** m/‖W+ΔW‖ at merge time, to undo a DoRA merge exactly. */
  readonly doraFactor = new Map<string, Float32Array>();
  readonly kind: "linear" | "conv1d" | "embedding";
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Module) {
    super(base);
    const k = layerKind(base);
    if (k !== "linear" && k !== "conv1d" && k !== "embedding") {
      throw new PeftError(
        `Target module ${base.constructor.name} is not supported by LoRA. Currently, only Linear, Conv1D (GPT-2) and Embedding are supported.`,
      );
    }
    this.kind = k;
    if (base instanceof VocabParallelEmbedding) throw new PeftError(`LoRA on the vocab-parallel embedding is not supported under tensor parallelism; target the linear layers`);
    if (isParallelLinear(base)) {
      // the adapter is built at the full shape (as one process draws it) and then sliced
      [this.inFeatures, this.outFeatures] = base.fullDims();
    } else if (k === "embedding") {
      const w = ownParam(base, "weight")!;
      this.inFeatures = w.shape[0];
      this.outFeatures = w.shape[1];
    } else {
      [this.inFeatures, this.outFeatures] = linearDims(base);
    }
    this.registerModule("lora_A", new ModuleDict<Linear>());
    this.registerModule("lora_B", new ModuleDict<Linear>());
    this.registerModule("lora_embedding_A", new ParameterDict());
    this.registerModule("lora_embedding_B", new ParameterDict());
    this.registerModule("lora_magnitude_vector", new ModuleDict<DoraMagnitude>());
  }

  override updateLayer(adapterName: string, config: PeftConfig, ctx: LayerContext): void {
    const cfg = config as LoraConfig;
    const rk = patternKey(cfg.rankPattern, ctx.key);
    const ak = patternKey(cfg.alphaPattern, ctx.key);
    const r = rk !== null ? cfg.rankPattern[rk] : cfg.r;
    const alpha = ak !== null ? cfg.alphaPattern[ak] : cfg.loraAlpha;
    if (!Number.isInteger(r) || r <= 0) throw new PeftError(`LoRA rank for '${ctx.key}' must be a positive integer, got ${r}`);
    this.r.set(adapterName, r);
    this.loraAlpha.set(adapterName, alpha);
    this.scaling.set(adapterName, cfg.useRslora ? alpha / Math.sqrt(r) : alpha / r);
    this.loraDropout.set(adapterName, cfg.loraDropout);
    const init = cfg.initLoraWeights;
    if (this.kind === "embedding") {
      if (cfg.useDora) throw new PeftError(`DoRA on Embedding ('${ctx.key}') is not supported`);
      const A = Tensor.zeros([r, this.inFeatures]);
      const B = Tensor.zeros([this.outFeatures, r]);
      if (init === false) {
        globalRng.fillNormal(A.data);
        globalRng.fillNormal(B.data);
      } else if (init === "gaussian") {
        globalRng.fillNormal(A.data, 0, 1 / r);
      } else if (init === "pissa") {
        throw new PeftError(`PiSSA init on Embedding ('${ctx.key}') is not supported`);
      } else {
        globalRng.fillNormal(B.data);
      }
      this.lora_embedding_A.set(adapterName, A.requiresGrad_());
      this.lora_embedding_B.set(adapterName, B.requiresGrad_());
    } else {
      const parallel = isParallelLinear(this.base_layer) ? this.base_layer : null;
      if (parallel) checkParallelLora(cfg, ctx.key);
      const A = new Linear(this.inFeatures, r, { bias: false });
      const B = new Linear(r, this.outFeatures, { bias: false });
      // nn.Linear's own init is kaiming-uniform(a=√5): U(±1/√fan_in); init=false keeps it for both.
      fillUniform(A.weight, 1 / Math.sqrt(this.inFeatures));
      if (init === false) fillUniform(B.weight, 1 / Math.sqrt(r));
      else if (init === "gaussian") {
        globalRng.fillNormal(A.weight.data, 0, 1 / r);
        (B.weight.data as Float32Array).fill(0);
      } else (B.weight.data as Float32Array).fill(0);
      if (parallel) shardLoraPair(parallel, A, B);
      this.lora_A.set(adapterName, A);
      this.lora_B.set(adapterName, B);
      if (init === "pissa") this.pissaInit(adapterName);
      this.useDora.set(adapterName, cfg.useDora);
      if (cfg.useDora) {
        const { data, out, in: inn } = weightOutIn(this.getBaseLayer());
        const delta = noGrad(() => matmul(B.weight, A.weight)).f32();
        this.lora_magnitude_vector.set(adapterName, new DoraMagnitude(rowNorms(data, delta, this.scaling.get(adapterName)!, out, inn)));
      }
    }
    this.setAdapter(ctx.activeAdapters);
  }

  /** PiSSA: A,B from the top-r singular triplets of W (scaled by 1/scaling); W keeps the residual. */
  private pissaInit(adapterName: string): void {
    const base = this.getBaseLayer();
    const { data, out, in: inn } = weightOutIn(base);
    const r = this.r.get(adapterName)!;
    const s = this.scaling.get(adapterName)!;
    const { U, S, Vt, k } = svd(Float64Array.from(data), out, inn);
    if (r > k) throw new PeftError(`PiSSA: rank ${r} exceeds min(out, in) = ${k}`);
    const A = this.lora_A.get(adapterName).weight.data as Float32Array; // [r, in]
    const B = this.lora_B.get(adapterName).weight.data as Float32Array; // [out, r]
    for (let j = 0; j < r; j++) {
      const sq = Math.sqrt(S[j] / s);
      for (let i = 0; i < inn; i++) A[j * inn + i] = sq * Vt[j * inn + i];
      for (let o = 0; o < out; o++) B[o * r + j] = U[o * k + j] * sq;
    }
    noGrad(() => addIntoWeight(base, this.getDeltaWeight(adapterName), -1, null));
  }

  /** ΔW = s·B·A in [out,in] orientation ([num,dim] for Embedding). */
  override getDeltaWeight(adapterName: string): Tensor {
    return noGrad(() => {
      const s = this.scaling.get(adapterName)!;
      if (this.kind === "embedding") {
        const A = this.lora_embedding_A.get(adapterName), B = this.lora_embedding_B.get(adapterName);
        return scale(matmul(B, A), s).transpose(0, 1).contiguous();
      }
      return scale(matmul(this.lora_B.get(adapterName).weight, this.lora_A.get(adapterName).weight), s);
    });
  }

  protected override mergeOne(adapterName: string, safeMerge: boolean): void {
    if (!this.useDora.get(adapterName)) return super.mergeOne(adapterName, safeMerge);
    const base = this.getBaseLayer();
    const { data, out, in: inn } = weightOutIn(base);
    const delta = this.getDeltaWeight(adapterName).f32();
    const norm = rowNorms(data, delta, 1, out, inn).f32();
    const m = this.lora_magnitude_vector.get(adapterName).weight.f32();
    const factor = new Float32Array(out);
    for (let o = 0; o < out; o++) factor[o] = m[o] / norm[o];
    const next = new Float32Array(out * inn);
    for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) next[o * inn + i] = factor[o] * (data[o * inn + i] + delta[o * inn + i]);
    if (safeMerge && next.some((v) => !Number.isFinite(v))) throw new PeftError(`safe merge: NaN/Inf in the merged weight of adapter '${adapterName}'; the adapter seems broken`);
    this.doraFactor.set(adapterName, factor);
    writeOutIn(base, next, out, inn);
  }
  protected override unmergeOne(adapterName: string): void {
    if (!this.useDora.get(adapterName)) return super.unmergeOne(adapterName);
    const base = this.getBaseLayer();
    const { data, out, in: inn } = weightOutIn(base);
    const delta = this.getDeltaWeight(adapterName).f32();
    const factor = this.doraFactor.get(adapterName)!;
    const next = new Float32Array(out * inn);
    for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) next[o * inn + i] = data[o * inn + i] / factor[o] - delta[o * inn + i];
    writeOutIn(base, next, out, inn);
  }

  protected override adapterForward(x: unknown): Tensor {
    if (isParallelLinear(this.base_layer)) return this.parallelForward(x as Tensor);
    const fused = this.fusedForward(x);
    if (fused) return fused;
    let result = callForward<Tensor>(this.base_layer, x);
    for (const a of this.activeAdapters) {
      const s = this.scaling.get(a);
      if (s === undefined) continue;
      if (this.kind === "embedding") {
        if (!this.lora_embedding_A.has(a)) continue;
        const A = this.lora_embedding_A.get(a), B = this.lora_embedding_B.get(a);
        const afterA = embedding(A.transpose(0, 1).contiguous(), x as Tensor);
        result = add(result, scale(matmul(afterA, B.transpose(0, 1)), s));
        continue;
      }
      if (!this.lora_A.has(a)) continue;
      const xt = x as Tensor;
      const p = this.loraDropout.get(a) ?? 0;
      const dropped = p > 0 && this.training;
      const xd = dropped ? dropout(xt, p, true) : xt;
      const A = this.lora_A.get(a).weight, B = this.lora_B.get(a).weight;
      const loraOut = linear(linear(xd, A), B);
      if (!this.useDora.get(a)) {
        result = add(result, scale(loraOut, s));
        continue;
      }
      result = add(result, this.doraTerm(a, xd, dropped, result, loraOut, s));
    }
    return result;
  }

  /** A tensor-parallel base layer with the active adapters (lora/parallel.ts). */
  private parallelForward(x: Tensor): Tensor {
    const terms = this.activeAdapters.filter((a) => this.scaling.has(a) && this.lora_A.has(a)).map((a) => ({
      A: this.lora_A.get(a).weight, B: this.lora_B.get(a).weight, scaling: this.scaling.get(a)!, dropoutP: this.loraDropout.get(a) ?? 0,
    }));
    return parallelLoraForward(this.base_layer as never, x, terms, this.training);
  }

  /**
   * act(forward(x)) for a feed-forward up-projection (see nn/layers forwardAct), with the bias add and
   * the activation fused into one pass after the LoRA product where the fused path applies (a plain
   * Linear or GPT-2 Conv1D base, see fusedForward); merged or disabled adapters fuse in the base layer.
   */
  forwardAct(x: Tensor, act: BiasActOp): Tensor {
    if (this.forward !== LoraLayer.prototype.forward || this.adapterForward !== LoraLayer.prototype.adapterForward) return activate(this.forward(x), act);
    if (this.bypassAdapters()) return forwardAct(this.base_layer, x, act);
    return this.fusedForward(x, act) ?? activate(this.adapterForward(x), act);
  }

  /**
   * The common case as one fused op (ops/matmul.ts loraLinear): a plain Linear base (or, with a fused
   * activation, a plain Conv1D base), one active adapter, no DoRA, no active dropout. Null when the
   * general path is needed.
   */
  private fusedForward(x: unknown, act?: BiasActOp): Tensor | null {
    if (!(x instanceof Tensor) || this.activeAdapters.length !== 1) return null;
    const base = this.base_layer;
    const inOut = this.kind === "conv1d";
    if (base instanceof QuantLinear && (base as { forward: unknown }).forward === QuantLinear.prototype.forward && act === undefined) return this.fusedQuant(x, base);
    if (!(this.kind === "linear" ? isPlainLinear(base) : inOut && act !== undefined && isPlainConv1D(base))) return null;
    const { weight, bias } = base as Linear | Conv1D;
    const a = this.activeAdapters[0];
    const s = this.scaling.get(a);
    if (s === undefined || !this.lora_A.has(a) || !this.lora_B.has(a) || this.useDora.get(a)) return null;
    if ((this.loraDropout.get(a) ?? 0) > 0 && this.training) return null;
    const la = this.lora_A.get(a), lb = this.lora_B.get(a);
    if (!isPlainLinear(la) || !isPlainLinear(lb) || la.bias || lb.bias) return null;
    if (la.weight.dtype !== "f32" || lb.weight.dtype !== "f32" || weight.ndim !== 2) return null;
    return loraLinear(x, weight, bias, la.weight, lb.weight, s, { act, weightInOut: inOut });
  }

  /** The fused op on a quantised base (ops/quant_linear quantLoraLinear): one adapter, no DoRA, no active dropout. */
  private fusedQuant(x: Tensor, base: QuantLinear): Tensor | null {
    const a = this.activeAdapters[0];
    const s = this.scaling.get(a);
    if (s === undefined || !this.lora_A.has(a) || !this.lora_B.has(a) || this.useDora.get(a)) return null;
    if ((this.loraDropout.get(a) ?? 0) > 0 && this.training) return null;
    const la = this.lora_A.get(a), lb = this.lora_B.get(a);
    if (!isPlainLinear(la) || !isPlainLinear(lb) || la.bias || lb.bias || la.weight.dtype !== "f32" || lb.weight.dtype !== "f32") return null;
    return quantLoraLinear(x, base.qweight, base.bias, la.weight, lb.weight, s, { computeDtype: base.computeDtype });
  }

  /** (m/‖W+sBA‖ − 1)·(xWᵀ) + m/‖W+sBA‖·s·BAx, with the norm detached. */
  private doraTerm(a: string, xd: Tensor, dropped: boolean, result: Tensor, loraOut: Tensor, s: number): Tensor {
    const base = this.getBaseLayer();
    const { data, out, in: inn } = weightOutIn(base);
    const delta = noGrad(() => matmul(this.lora_B.get(a).weight, this.lora_A.get(a).weight)).f32();
    const norm = rowNorms(data, delta, s, out, inn);
    const mag = this.lora_magnitude_vector.get(a).weight;
    const mns = div(mag, norm);
    const bias = ownParam(base, "bias");
    let baseNoBias: Tensor;
    if (dropped) baseNoBias = linear(xd, new Tensor(data, [out, inn]));
    else baseNoBias = bias ? sub(result, bias) : result;
    return add(mul(sub(mns, 1), baseNoBias), scale(mul(mns, loraOut), s));
  }
}

/** A Linear whose forward is nn.Linear's own (not a subclass overriding it). */
function isPlainLinear(m: Module): m is Linear {
  return m instanceof Linear && (m as { forward: unknown }).forward === Linear.prototype.forward;
}

/** A GPT-2 Conv1D whose forward is Conv1D's own. */
function isPlainConv1D(m: Module): m is Conv1D {
  return m instanceof Conv1D && (m as { forward: unknown }).forward === Conv1D.prototype.forward;
}

/** Writes [out,in] values back into a layer's weight (transposing for Conv1D, keeping dtype). */
function writeOutIn(layer: Module, next: Float32Array, out: number, inn: number): void {
  const w = ownParam(layer, "weight")!;
  let vals = next;
  if (layerKind(layer) === "conv1d") {
    vals = new Float32Array(out * inn);
    for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) vals[i * out + o] = next[o * inn + i];
  }
  if (w.dtype === "f32" && w.isContiguous()) (w.data as Float32Array).set(vals);
  else {
    const nw = new Tensor(vals, w.shape, "f32").to(w.dtype);
    nw.requiresGrad = w.requiresGrad;
    nw.name = w.name;
    layer.registerParameter("weight", nw);
  }
}
