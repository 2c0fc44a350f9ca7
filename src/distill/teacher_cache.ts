// Precomputed teacher logits on disk: the teachers run once over the training features, their
// logits are written to a safetensors file whose metadata holds a key = sha256(teacher weights,
// feature content). Loading with different teachers or data (a stale cache) rebuilds the file.
//
// Layout: "teacher.<k>" [R, C] f32 = teacher k's logits rows for all examples back to back
// (sequence tasks: one row per example; token tasks: one row per real token), "offsets" [N+1] i32
// = first row of each example.

import { Sha256 } from "../platform/sha256.js";
import { getFiles } from "../platform/files.js";
import { dirname } from "../platform/paths.js";
import { Tensor } from "../tensor/tensor.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { noGrad } from "../tensor/autograd.js";
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from "../io/safetensors.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import type { Features } from "../data/collate.js";

/** sha256 over every parameter's name, dtype, shape and bytes (sorted by name). */
export function hashModelWeights(model: PreTrainedModel): string {
  const h = new Sha256();
  const entries = [...model.stateDict().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, t] of entries) {
    h.update(`${name}|${t.dtype}|${t.shape.join(",")}|`);
    const d = t.contiguous().data as ArrayBufferView;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digestHex();
}

/** sha256 over the model inputs of every feature, in order. */
export function hashFeatures(features: ArrayLike<Features>): string {
  const h = new Sha256();
  for (let i = 0; i < features.length; i++) {
    const f = features[i];
    h.update(JSON.stringify([f.inputIds, f.attentionMask ?? null, f.tokenTypeIds ?? null]));
    h.update("\n");
  }
  return h.digestHex();
}

export interface TeacherCacheOptions {
  batchSize?: number;
  /** Pad id used when batching features for the teacher forward (masked positions; default 0). */
  padTokenId?: number;
}

function pad(rows: number[][], value: number): number[][] {
  const L = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(L - r.length).fill(value)]);
}

export class TeacherLogitCache {
  private constructor(
    readonly path: string,
    readonly key: string,
    /** Per teacher: [R, C] rows. */
    private readonly logits: Float32Array[],
    readonly numClasses: number,
    private readonly offsets: Int32Array,
    /** "sequence": one row per example; "token": one row per real token. */
    readonly kind: "sequence" | "token",
    /** True when this call computed the logits (no cache, or a stale one). */
    readonly rebuilt: boolean,
  ) {}

  get numTeachers(): number {
    return this.logits.length;
  }
  get numExamples(): number {
    return this.offsets.length - 1;
  }

  static computeKey(teachers: PreTrainedModel[], features: ArrayLike<Features>): string {
    const h = new Sha256();
    for (const t of teachers) h.update(hashModelWeights(t));
    h.update(hashFeatures(features));
    return h.digestHex();
  }

  /** Loads the cache at `path` if its key matches these teachers and features; otherwise computes and writes it. */
  static loadOrBuild(path: string, teachers: PreTrainedModel | PreTrainedModel[], features: ArrayLike<Features>, opts: TeacherCacheOptions = {}): TeacherLogitCache {
    const ts = Array.isArray(teachers) ? teachers : [teachers];
    if (ts.length === 0) throw new ConfigError("TeacherLogitCache: no teachers");
    const key = TeacherLogitCache.computeKey(ts, features);
    if (getFiles().exists(path)) {
      const meta = readSafetensorsHeader(path).metadata;
      if (meta && meta.key === key && Number(meta.teachers) === ts.length) return TeacherLogitCache.read(path, key, false);
    }
    return TeacherLogitCache.build(path, key, ts, features, opts);
  }

  private static read(path: string, key: string, rebuilt: boolean): TeacherLogitCache {
    const header = readSafetensorsHeader(path);
    const meta = header.metadata ?? {};
    const n = Number(meta.teachers);
    const kind = meta.kind === "token" ? "token" : "sequence";
    const tensors = loadSafetensors(path);
    const off = tensors.get("offsets");
    if (!off) throw new FormatError(`${path}: teacher cache has no 'offsets' tensor`);
    const logits: Float32Array[] = [];
    let C = 0;
    for (let k = 0; k < n; k++) {
      const t = tensors.get(`teacher.${k}`);
      if (!t || t.ndim !== 2) throw new FormatError(`${path}: teacher cache tensor 'teacher.${k}' is missing or not [R, C]`);
      C = t.shape[1];
      logits.push(t.f32());
    }
    const offsets = off.i32();
    if (offsets[offsets.length - 1] * C !== logits[0].length) throw new FormatError(`${path}: offsets end at row ${offsets[offsets.length - 1]} but 'teacher.0' has ${logits[0].length / C} rows`);
    return new TeacherLogitCache(path, key, logits, C, offsets, kind, rebuilt);
  }

  private static build(path: string, key: string, teachers: PreTrainedModel[], features: ArrayLike<Features>, opts: TeacherCacheOptions): TeacherLogitCache {
    const bs = opts.batchSize ?? 16;
    const N = features.length;
    const chunks: Float32Array[][] = teachers.map(() => []);
    const offsets = new Int32Array(N + 1);
    let kind: "sequence" | "token" | null = null;
    let C = 0;
    for (let b0 = 0; b0 < N; b0 += bs) {
      const batch: Features[] = [];
      for (let i = b0; i < Math.min(N, b0 + bs); i++) batch.push(features[i]);
      const inputs = {
        inputIds: pad(batch.map((f) => f.inputIds), opts.padTokenId ?? 0),
        attentionMask: pad(batch.map((f) => f.attentionMask ?? f.inputIds.map(() => 1)), 0),
        ...(batch.some((f) => f.tokenTypeIds) ? { tokenTypeIds: pad(batch.map((f) => f.tokenTypeIds ?? f.inputIds.map(() => 0)), 0) } : {}),
      };
      teachers.forEach((t, k) => {
        const logits = noGrad(() => t.forward(inputs).logits);
        if (!logits) throw new ConfigError(`TeacherLogitCache: teacher ${k} returned no logits`);
        const kk = logits.ndim === 3 ? "token" : "sequence";
        if (kind !== null && kind !== kk) throw new ConfigError("TeacherLogitCache: teachers disagree on the logits rank");
        kind = kk;
        C = logits.shape[logits.ndim - 1];
        const d = logits.f32();
        batch.forEach((f, j) => {
          if (kk === "sequence") {
            chunks[k].push(d.slice(j * C, (j + 1) * C));
            if (k === 0) offsets[b0 + j + 1] = offsets[b0 + j] + 1;
          } else {
            const T = logits.shape[1];
            const mask = inputs.attentionMask[j];
            const rows: number[] = [];
            mask.forEach((m, t2) => m && rows.push(t2));
            const out = new Float32Array(rows.length * C);
            rows.forEach((t2, r) => out.set(d.subarray((j * T + t2) * C, (j * T + t2 + 1) * C), r * C));
            chunks[k].push(out);
            if (k === 0) offsets[b0 + j + 1] = offsets[b0 + j] + rows.length;
          }
        });
      });
    }
    const logits = chunks.map((cs) => {
      const total = cs.reduce((a, c) => a + c.length, 0);
      const out = new Float32Array(total);
      let o = 0;
      for (const c of cs) { out.set(c, o); o += c.length; }
      return out;
    });
    const R = offsets[N];
    const tensors = new Map<string, Tensor>();
    logits.forEach((l, k) => tensors.set(`teacher.${k}`, new Tensor(l, [R, C])));
    tensors.set("offsets", new Tensor(offsets, [N + 1], "i32"));
    getFiles().mkdir(dirname(path));
    saveSafetensors(path, tensors, { key, teachers: String(teachers.length), kind: kind ?? "sequence" });
    return new TeacherLogitCache(path, key, logits, C, offsets, kind ?? "sequence", true);
  }

  /** Teacher k's cached rows for one example: [rows, C] values. */
  rows(k: number, example: number): Float32Array {
    if (k < 0 || k >= this.logits.length) throw new ConfigError(`TeacherLogitCache: no teacher ${k} (${this.logits.length} cached)`);
    if (!Number.isInteger(example) || example < 0 || example >= this.numExamples) throw new ConfigError(`TeacherLogitCache: example ${example} out of range (${this.numExamples} cached)`);
    return this.logits[k].subarray(this.offsets[example] * this.numClasses, this.offsets[example + 1] * this.numClasses);
  }

  /**
   * Teacher k's logits laid out like a batch: [B, C] for sequence tasks; [B, T, C] for token
   * tasks, with each example's rows placed at the positions where attentionMask is 1 (zeros elsewhere).
   */
  batch(k: number, examples: number[], attentionMask?: number[][]): Tensor {
    const C = this.numClasses;
    if (this.kind === "sequence") {
      const out = new Float32Array(examples.length * C);
      examples.forEach((e, j) => out.set(this.rows(k, e), j * C));
      return new Tensor(out, [examples.length, C]);
    }
    if (!attentionMask) throw new ConfigError("TeacherLogitCache.batch: token-level logits need the batch attentionMask");
    const T = attentionMask[0].length;
    const out = new Float32Array(examples.length * T * C);
    examples.forEach((e, j) => {
      const r = this.rows(k, e);
      let n = 0;
      attentionMask[j].forEach((m, t) => {
        if (!m) return;
        if ((n + 1) * C > r.length) throw new ConfigError(`TeacherLogitCache: example ${e} has ${r.length / C} cached tokens but the batch row has more real tokens`);
        out.set(r.subarray(n * C, (n + 1) * C), (j * T + t) * C);
        n++;
      });
      if (n * C !== r.length) throw new ConfigError(`TeacherLogitCache: example ${e} has ${r.length / C} cached tokens but the batch row has ${n}`);
    });
    return new Tensor(out, [examples.length, T, C]);
  }
}
