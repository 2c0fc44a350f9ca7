// The code books of the bitsandbytes storage formats, built from their definitions:
// NF4 (QLoRA, Dettmers et al. 2023, appendix E / bitsandbytes create_normal_map): quantiles of N(0,1)
// at evenly spaced probabilities from 1−δ to ½ (δ = ½(1/32 + 1/30), offset 0.9677083), 8 positive and
// 7 negative levels plus an exact 0, normalised to [−1, 1]; FP4 (bitsandbytes' e2m1 without inf/nan,
// bias 3 with one subnormal, scaled so the largest magnitude is 1); and the 8-bit "dynamic" code
// (create_dynamic_map, signed) that double quantisation stores the absmax constants with.

/** Inverse of the standard normal CDF (Acklam's rational approximation, |rel err| < 1.2e-9). */
export function normalPpf(p: number): number {
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalPpf(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** torch.linspace(start, end, steps) in float32 (the first half counts up from start, the rest down from end). */
function linspaceF32(start0: number, end0: number, steps: number): number[] {
  const start = Math.fround(start0), end = Math.fround(end0);
  const step = Math.fround((end - start) / (steps - 1));
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(i < steps / 2 ? Math.fround(start + i * step) : Math.fround(end - (steps - 1 - i) * step));
  return out;
}

/** The 16 NF4 levels, ascending (index = the stored 4-bit code). */
export function buildNf4Code(offset = 0.9677083): Float32Array {
  const pos = linspaceF32(offset, 0.5, 9).slice(0, -1).map(normalPpf);
  const neg = linspaceF32(offset, 0.5, 8).slice(0, -1).map((p) => -normalPpf(p));
  const v = [...pos, 0, ...neg].map(Math.fround).sort((x, y) => x - y);
  const max = v[v.length - 1];
  return Float32Array.from(v, (x) => Math.fround(x / max));
}

/**
 * bitsandbytes' FP4 (e2m1) levels by code: bit 3 is the sign; the magnitudes of codes 0..7 are
 * 0, 1/192 (the subnormal), 2/3, 1, 1/3, 1/2, 1/6, 1/4: exponent bits 2..1, mantissa bit 0, values
 * 0.0625, 8, 12, 4, 6, 2, 3 divided by the largest, 12 (bitsandbytes' dDequantizeFP4Tree).
 */
export function buildFp4Code(): Float32Array {
  const mag = (c: number): number => {
    const e = (c >> 1) & 3, m = c & 1;
    if (e === 0) return m ? 0.0625 : 0; // the one subnormal
    return 2 ** (4 - e) * (1 + m / 2); // exponent codes 1, 2, 3 → 8, 4, 2 (bitsandbytes' order)
  };
  const out = new Float32Array(16);
  for (let c = 0; c < 16; c++) out[c] = Math.fround((c & 8 ? -1 : 1) * mag(c & 7) / 12);
  return out;
}

/** bitsandbytes' signed dynamic 8-bit code (create_dynamic_map(signed=True, max_exponent_bits=7)), ascending, 256 values. */
export function buildDynamicCode(): Float32Array {
  const data: number[] = [];
  const maxExp = 7;
  for (let i = 0; i < maxExp; i++) {
    const items = 2 ** i + 1;
    const bounds = linspaceF32(0.1, 1, items);
    const scale = 10 ** (-(maxExp - 1) + i);
    for (let j = 0; j + 1 < items; j++) {
      const mean = Math.fround(Math.fround(bounds[j] + bounds[j + 1]) / 2);
      const s = Math.fround(scale); // torch multiplies a float32 tensor by the scalar in float32
      data.push(Math.fround(s * mean), Math.fround(-s * mean));
    }
  }
  data.push(0, 1);
  data.sort((x, y) => x - y);
  return Float32Array.from(data);
}

export const NF4_CODE = buildNf4Code();
export const FP4_CODE = buildFp4Code();
export const DYNAMIC_CODE = buildDynamicCode();

/**
 * Index of the level of a 16-entry code nearest to x (x already divided by the block's absmax);
 * ties go to the lower level, as bitsandbytes' comparisons (x > midpoint) do.
 */
export function nearestIndex(sortedCode: Float32Array, order: Int8Array, x: number): number {
  let lo = 0, hi = sortedCode.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x > sortedCode[mid]) lo = mid;
    else hi = mid;
  }
  // sortedCode[lo] < x ≤ sortedCode[hi] (or x beyond an end)
  const pick = x > (sortedCode[lo] + sortedCode[hi]) / 2 ? hi : lo;
  return order[pick];
}

/** A code sorted ascending with the original index of each entry (for nearestIndex). */
export function sortedWithIndex(code: Float32Array): { sorted: Float32Array; order: Int8Array } {
  const idx = [...code.keys()].sort((i, j) => code[i] - code[j] || i - j);
  return { sorted: Float32Array.from(idx, (i) => code[i]), order: Int8Array.from(idx) };
}
