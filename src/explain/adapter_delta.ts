// What a LoRA adapter changed: per adapted module, ΔW = s·B·A (s = lora_alpha/r, or lora_alpha/√r
// with rsLoRA), its Frobenius norm, the norm relative to the base weight, its singular values and
// effective rank. The singular values come from the r×r problem: with B = Q_B·R_B and Aᵀ = Q_A·R_A
// (thin QR), ΔW = Q_B·(s·R_B·R_Aᵀ)·Q_Aᵀ, so σ(ΔW) = σ(s·R_B·R_Aᵀ) — no [out, in] matrix is formed.
// Effective rank (Roy & Vetterli 2007): exp(H(p)), H the Shannon entropy (nats) of pₖ = σₖ / Σσ;
// 1 for a rank-one ΔW, r for r equal singular values, 0 for ΔW = 0. DoRA's magnitude rescaling is
// not part of ΔW here.
import type { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import { svd } from "../peft/linalg.js";
import { LoraLayer } from "../peft/lora/layer.js";

export interface ModuleDelta {
  /** The module's path in the base model (without PEFT's base_model.model. prefix). */
  name: string;
  /** The layer index (first number in the path), or null outside the layer stack. */
  layer: number | null;
  /** The module's own name (last path component: q_proj, query, c_attn, …). */
  module: string;
  deltaNorm: number;
  /** ‖W‖ of the base weight; null when only the adapter is known. */
  weightNorm: number | null;
  relativeNorm: number | null;
  effectiveRank: number;
  /** Descending, r of them. */
  singularValues: number[];
}

/** Singular values (descending) of s·B·A for A [r, in] and B [out, r], row-major. */
export function loraDeltaSingularValues(A: Float32Array | Float64Array, B: Float32Array | Float64Array, r: number, inF: number, outF: number, scaling: number): number[] {
  if (A.length !== r * inF || B.length !== outF * r) throw new ShapeError(`adapter delta: A has ${A.length} values (expected ${r}×${inF}), B ${B.length} (expected ${outF}×${r})`);
  const RB = qrR(Float64Array.from(B), outF, r);
  const At = new Float64Array(inF * r);
  for (let i = 0; i < r; i++) for (let j = 0; j < inF; j++) At[j * r + i] = A[i * inF + j];
  const RA = qrR(At, inF, r);
  const M = new Float64Array(r * r); // s·R_B·R_Aᵀ
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    let acc = 0;
    for (let k = 0; k < r; k++) acc += RB[i * r + k] * RA[j * r + k];
    M[i * r + j] = scaling * acc;
  }
  return Array.from(svd(M, r, r).S).map(Math.abs).sort((a, b) => b - a);
}

/**
 * R [n, n] of the thin QR of X [m, n] (row-major) by modified Gram–Schmidt, orthogonalising twice;
 * a column with nothing left (rank deficiency, e.g. B = 0 at initialisation) gets a zero row.
 */
function qrR(X: Float64Array, m: number, n: number): Float64Array {
  const R = new Float64Array(n * n), Q = new Float64Array(m * n), v = new Float64Array(m);
  let scale = 0;
  for (const x of X) scale = Math.max(scale, Math.abs(x));
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < m; i++) v[i] = X[i * n + j];
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < m; i++) d += Q[i * n + k] * v[i];
        R[k * n + j] += d;
        for (let i = 0; i < m; i++) v[i] -= d * Q[i * n + k];
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    if (norm <= 1e-13 * scale * Math.sqrt(m) || norm === 0) continue; // dependent column: q_j = 0
    R[j * n + j] = norm;
    for (let i = 0; i < m; i++) Q[i * n + j] = v[i] / norm;
  }
  return R;
}

/** exp of the entropy of the normalised singular values (Roy & Vetterli 2007); 0 when all are 0. */
export function effectiveRank(singularValues: number[]): number {
  const total = singularValues.reduce((a, s) => a + s, 0);
  if (!(total > 0)) return 0;
  let h = 0;
  for (const s of singularValues) {
    const p = s / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

function frobenius(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/** One module's delta statistics from A [r, in], B [out, r], the scaling and (optionally) the base weight. */
export function moduleDelta(name: string, A: Tensor, B: Tensor, scaling: number, weight: Tensor | null): ModuleDelta {
  const [r, inF] = A.shape, [outF, rb] = B.shape;
  if (A.ndim !== 2 || B.ndim !== 2 || rb !== r) throw new ShapeError(`adapter delta: ${name}: lora_A [${A.shape}] and lora_B [${B.shape}] do not fit (expected [r, in] and [out, r])`);
  const singularValues = loraDeltaSingularValues(A.f32(), B.f32(), r, inF, outF, scaling);
  const deltaNorm = Math.sqrt(singularValues.reduce((a, s) => a + s * s, 0));
  const weightNorm = weight ? frobenius(weight.f32()) : null;
  const m = /(?:^|\.)(\d+)(?:\.|$)/.exec(name);
  return {
    name, layer: m ? Number(m[1]) : null, module: name.slice(name.lastIndexOf(".") + 1),
    deltaNorm, weightNorm, relativeNorm: weightNorm ? deltaNorm / weightNorm : null,
    effectiveRank: effectiveRank(singularValues), singularValues,
  };
}

const PEFT_PREFIX = /^base_model\.model\./;

/**
 * Every LoRA-adapted module of a model (a PeftModel or a model with LoRA layers injected), for one
 * adapter (default: each layer's first active adapter). Embedding LoRA uses
 * lora_embedding_A [r, num] / lora_embedding_B [dim, r] (ΔWᵀ, same norms and singular values).
 */
export function adapterDelta(model: Module, adapterName?: string): ModuleDelta[] {
  const out: ModuleDelta[] = [];
  for (const [path, sub] of model.namedModules()) {
    if (!(sub instanceof LoraLayer)) continue;
    const a = adapterName ?? sub.activeAdapters[0];
    const s = sub.scaling.get(a);
    if (a === undefined || s === undefined) continue;
    const name = path.replace(PEFT_PREFIX, "");
    const weight = (sub.base_layer as unknown as { weight?: Tensor }).weight ?? null;
    if (sub.lora_A.has(a) && sub.lora_B.has(a)) out.push(moduleDelta(name, sub.lora_A.get(a).weight, sub.lora_B.get(a).weight, s, weight));
    else if (sub.lora_embedding_A.has(a) && sub.lora_embedding_B.has(a)) out.push(moduleDelta(name, sub.lora_embedding_A.get(a), sub.lora_embedding_B.get(a), s, weight));
  }
  return out;
}

/** The LoRA config fields the scaling depends on (adapter_config.json spelling). */
export interface LoraScalingConfig {
  r?: number;
  lora_alpha?: number;
  use_rslora?: boolean;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
}

/**
 * The same statistics from a saved adapter alone (its tensors and adapter_config.json), without
 * the base model: weightNorm/relativeNorm are null. Keys are PEFT's
 * `base_model.model.<path>.lora_A.weight` / `.lora_B.weight` (and lora_embedding_A/B).
 */
export function adapterDeltaFromTensors(tensors: Map<string, Tensor>, config: LoraScalingConfig): ModuleDelta[] {
  const out: ModuleDelta[] = [];
  for (const [key, A] of tensors) {
    const m = /^(.*)\.lora_(embedding_)?A(?:\.weight)?$/.exec(key);
    if (!m) continue;
    const bKey = m[2] ? `${m[1]}.lora_embedding_B` : `${m[1]}.lora_B.weight`;
    const B = tensors.get(bKey);
    if (!B) throw new ShapeError(`adapter delta: ${key} has no matching ${bKey}`);
    const name = m[1].replace(PEFT_PREFIX, "");
    const r = A.shape[0];
    const alpha = patternValue(config.alpha_pattern, name) ?? config.lora_alpha ?? 8;
    const scaling = config.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
    out.push(moduleDelta(name, A, B, scaling, null));
  }
  return out.sort((x, y) => (x.layer ?? -1) - (y.layer ?? -1) || x.name.localeCompare(y.name));
}

/** PEFT's rank/alpha pattern lookup: the first key that the module path ends with (or matches as a regex). */
function patternValue(pattern: Record<string, number> | undefined, name: string): number | undefined {
  if (!pattern) return undefined;
  for (const [k, v] of Object.entries(pattern)) {
    if (name === k || name.endsWith(`.${k}`)) return v;
    try {
      if (new RegExp(`(^|\\.)${k}$`).test(name)) return v;
    } catch {
      // not a regex: only the suffix match applies
    }
  }
  return undefined;
}

/** The adapter_delta.json document (snake_case keys; the training report plots it). */
export function adapterDeltaJSON(deltas: ModuleDelta[]): { modules: Record<string, unknown>[] } {
  return {
    modules: deltas.map((d) => ({
      name: d.name, layer: d.layer, module: d.module, delta_norm: d.deltaNorm, weight_norm: d.weightNorm,
      relative_norm: d.relativeNorm, effective_rank: d.effectiveRank, singular_values: d.singularValues,
    })),
  };
}

/** The table `peft-ts inspect --adapter` prints. */
export function formatAdapterDelta(deltas: ModuleDelta[]): string[] {
  const f = (x: number | null, d = 4) => (x === null ? "—" : x.toExponential(d - 1));
  const width = Math.max(6, ...deltas.map((d) => d.name.length));
  const lines = [`${"module".padEnd(width)}  ${"layer".padStart(5)}  ${"‖ΔW‖".padStart(10)}  ${"‖W‖".padStart(10)}  ${"‖ΔW‖/‖W‖".padStart(10)}  ${"eff.rank".padStart(8)}  σ₁…σᵣ`];
  for (const d of deltas) {
    lines.push(`${d.name.padEnd(width)}  ${String(d.layer ?? "—").padStart(5)}  ${f(d.deltaNorm).padStart(10)}  ${f(d.weightNorm).padStart(10)}  ${f(d.relativeNorm).padStart(10)}  ${d.effectiveRank.toFixed(2).padStart(8)}  ${d.singularValues.map((s) => s.toPrecision(3)).join(" ")}`);
  }
  return lines;
}
