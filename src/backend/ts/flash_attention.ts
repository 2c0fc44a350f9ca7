// Reference memory-linear attention (FlashAttention-2 scheme): online softmax over key blocks in the
// forward, keeping per row only the score max and 1/Σexp; the backward recomputes each row's
// probabilities from them. Scores and masks as in ./attention.ts (f32 score, causal keys exactly
// MASK_MIN, the key mask added in f32); a row whose visible keys are all masked is uniform over all keys.
import { MASK_MIN, type AttentionDropout, type AttentionParams, type F32 } from "../backend.js";
import { lowbias32 } from "./dropout.js";

const BLOCK = 64;

/** The dropout multiplier of element idx of the [B,H,Tq,Tk] probabilities (dropoutMask's value there). */
export function dropMultiplier(d: AttentionDropout, idx: number): number {
  const h = lowbias32(lowbias32((idx + d.k0) >>> 0) ^ d.k1);
  return h < d.p * 4294967296 ? 0 : Math.fround(d.keepScale);
}

/** Score of query row qi against key j: f32 scale·q·k plus the masks (key j is visible iff j ≤ jmax). */
function score(q: F32, qi: number, k: F32, kj: number, D: number, scale: number, mask: F32 | null, maskAt: number, visible: boolean): number {
  let dot = 0;
  for (let d = 0; d < D; d++) dot += q[qi + d] * k[kj + d];
  const s = Math.fround(Math.fround(dot) * scale);
  if (!visible) return MASK_MIN;
  return mask ? Math.fround(s + mask[maskAt]) : s;
}

const lastKey = (p: AttentionParams, i: number): number => (p.causal ? i + p.tk - p.tq : p.tk - 1);

export function flashAttention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32, stats: F32, p: AttentionParams, drop: AttentionDropout | null): void {
  const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D, scale } = p;
  const group = H / Hkv, kvStride = p.kvStride ?? Tk * D;
  const acc = new Float64Array(D);
  const s = new Float64Array(BLOCK);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kBase = (b * Hkv + Math.floor(h / group)) * kvStride;
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i, qi = row * D, jmax = lastKey(p, i);
        let m = -Infinity, l = 0;
        acc.fill(0);
        // one key block [j0, j1): new max, rescale what was summed so far, add the block
        const block = (j0: number, j1: number): void => {
          let mx = m;
          for (let j = j0; j < j1; j++) {
            s[j - j0] = score(q, qi, k, kBase + j * D, D, scale, mask, b * Tk + j, j <= jmax);
            if (s[j - j0] > mx) mx = s[j - j0];
          }
          const corr = m === -Infinity ? 0 : Math.exp(m - mx);
          l *= corr;
          for (let d = 0; d < D; d++) acc[d] *= corr;
          for (let j = j0; j < j1; j++) {
            const e = Math.exp(s[j - j0] - mx);
            l += e;
            const w = drop ? e * dropMultiplier(drop, row * Tk + j) : e;
            if (w === 0) continue;
            for (let d = 0; d < D; d++) acc[d] += w * v[kBase + j * D + d];
          }
          m = mx;
        };
        const end = Math.min(jmax + 1, Tk);
        for (let j0 = 0; j0 < end; j0 += BLOCK) block(j0, Math.min(j0 + BLOCK, end));
        // every visible key masked: the hidden keys score MASK_MIN too and share the weight
        if (m <= MASK_MIN) for (let j0 = Math.max(end, 0); j0 < Tk; j0 += BLOCK) block(j0, Math.min(j0 + BLOCK, Tk));
        const inv = l > 0 ? 1 / l : 0;
        for (let d = 0; d < D; d++) out[qi + d] = acc[d] * inv;
        stats[2 * row] = m;
        stats[2 * row + 1] = inv;
      }
    }
  }
}

export function flashAttentionBackward(
  q: F32, k: F32, v: F32, mask: F32 | null, out: F32, stats: F32, gOut: F32, gq: F32, gk: F32, gv: F32,
  p: AttentionParams, drop: AttentionDropout | null,
): void {
  const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D, scale } = p;
  const group = H / Hkv;
  gk.fill(0);
  gv.fill(0);
  const ds = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kBase = (b * Hkv + Math.floor(h / group)) * Tk * D;
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i, qi = row * D, jmax = lastKey(p, i);
        const m = stats[2 * row], inv = stats[2 * row + 1];
        const end = m <= MASK_MIN ? Tk : Math.min(jmax + 1, Tk);
        let delta = 0;
        for (let d = 0; d < D; d++) delta += gOut[qi + d] * out[qi + d];
        for (let d = 0; d < D; d++) gq[qi + d] = 0;
        for (let j = 0; j < end; j++) {
          const kj = kBase + j * D;
          const P = Math.exp(score(q, qi, k, kj, D, scale, mask, b * Tk + j, j <= jmax) - m) * inv;
          const mul = drop ? dropMultiplier(drop, row * Tk + j) : 1;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            dp += gOut[qi + d] * v[kj + d];
            gv[kj + d] += P * mul * gOut[qi + d];
          }
          ds[j] = P * (dp * mul - delta) * scale;
        }
        for (let j = 0; j < end; j++) {
          if (ds[j] === 0) continue;
          const kj = kBase + j * D;
          for (let d = 0; d < D; d++) {
            gq[qi + d] += ds[j] * k[kj + d];
            gk[kj + d] += ds[j] * q[qi + d];
          }
        }
      }
    }
  }
}
