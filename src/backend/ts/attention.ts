// Reference scaled-dot-product attention (eager, HF semantics, optional attention dropout) and its backward.
// Layouts: q [B,H,Tq,D], k/v [B,Hkv,Tk,D], probs [B,H,Tq,Tk], out [B,H,Tq,D], all contiguous.
// Query head h reads kv head ⌊h / (H/Hkv)⌋ (HF repeat_kv order).
import { MASK_MIN, type AttentionParams, type F32 } from "../backend.js";

/**
 * Scores are rounded to f32 and the mask is added in f32, so a masked score becomes exactly
 * MASK_MIN (the score is absorbed) like in PyTorch: a row whose keys are all masked then gets
 * uniform weights instead of NaN. A causally masked key gets MASK_MIN once (not added to the
 * key mask), as HF builds one combined mask with finfo.min wherever either mask drops a key.
 */
export function attention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32 | null, probs: F32, p: AttentionParams, drop: F32 | null = null): void {
  const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D, scale, causal } = p;
  const group = H / Hkv;
  const off = Tk - Tq;
  const row = new Float64Array(Tk);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      const qBase = ((b * H + h) * Tq) * D;
      const kBase = ((b * Hkv + kh) * Tk) * D;
      for (let i = 0; i < Tq; i++) {
        const qi = qBase + i * D;
        let mx = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const kj = kBase + j * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qi + d] * k[kj + d];
          let s = Math.fround(Math.fround(dot) * scale);
          if (causal && j > i + off) s = Math.fround(s + MASK_MIN);
          else if (mask) s = Math.fround(s + mask[b * Tk + j]);
          row[j] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          const e = Math.exp(row[j] - mx);
          row[j] = e;
          sum += e;
        }
        const pBase = ((b * H + h) * Tq + i) * Tk;
        const o = qBase + i * D;
        acc.fill(0);
        for (let j = 0; j < Tk; j++) {
          const pj = row[j] / sum;
          probs[pBase + j] = pj;
          if (!out) continue; // probabilities only
          // attention dropout multiplies the weights after the softmax (probs stay pre-dropout)
          const w = drop ? pj * drop[pBase + j] : pj;
          if (w === 0) continue;
          const vj = kBase + j * D;
          for (let d = 0; d < D; d++) acc[d] += w * v[vj + d];
        }
        if (out) for (let d = 0; d < D; d++) out[o + d] = acc[d];
      }
    }
  }
}

/**
 * dV = Pdᵀ·dO, dP = (dO·Vᵀ) ⊙ drop, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q,
 * with Pd = P ⊙ drop (Pd = P, no factor, when drop is null); dK/dV of a kv head sum over the query
 * heads that share it.
 */
export function attentionBackward(
  q: F32, k: F32, v: F32, probs: F32, gOut: F32, gq: F32, gk: F32, gv: F32, p: AttentionParams, drop: F32 | null = null,
): void {
  const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D, scale } = p;
  const group = H / Hkv;
  gk.fill(0);
  gv.fill(0);
  const dS = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      const qBase = ((b * H + h) * Tq) * D;
      const kBase = ((b * Hkv + kh) * Tk) * D;
      for (let i = 0; i < Tq; i++) {
        const qi = qBase + i * D;
        const pBase = ((b * H + h) * Tq + i) * Tk;
        let rs = 0;
        for (let j = 0; j < Tk; j++) {
          const pj = probs[pBase + j];
          const dj = drop ? drop[pBase + j] : 1;
          const pd = pj * dj;
          const vj = kBase + j * D;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            dp += gOut[qi + d] * v[vj + d];
            gv[vj + d] += pd * gOut[qi + d];
          }
          dp *= dj;
          dS[j] = dp;
          rs += dp * pj;
        }
        for (let d = 0; d < D; d++) gq[qi + d] = 0;
        for (let j = 0; j < Tk; j++) {
          const ds = probs[pBase + j] * (dS[j] - rs) * scale;
          if (ds === 0) continue;
          const kj = kBase + j * D;
          for (let d = 0; d < D; d++) {
            gq[qi + d] += ds * k[kj + d];
            gk[kj + d] += ds * q[qi + d];
          }
        }
      }
    }
  }
}
