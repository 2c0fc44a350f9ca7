// Reference LayerNorm / RMSNorm kernels over the last dim of [rows, cols].
// Statistics are accumulated in double; mean/rstd are saved per row for the backward pass.
import type { F32 } from "../backend.js";

export function layerNorm(x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[o + c];
    const mu = s / cols;
    let v = 0;
    for (let c = 0; c < cols; c++) {
      const d = x[o + c] - mu;
      v += d * d;
    }
    // biased variance, as torch.nn.LayerNorm
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) {
      let y = (x[o + c] - mu) * rs;
      if (w) y *= w[c];
      if (b) y += b[c];
      out[o + c] = y;
    }
  }
}

export function layerNormBackward(x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const mu = mean[r], rs = rstd[r];
    // dxhat = gy·w; gx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
    let sd = 0, sdx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mu) * rs;
      const d = w ? gy[o + c] * w[c] : gy[o + c];
      sd += d;
      sdx += d * xh;
      if (gw) gw[c] += gy[o + c] * xh;
      if (gb) gb[c] += gy[o + c];
    }
    const md = sd / cols, mdx = sdx / cols;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mu) * rs;
      const d = w ? gy[o + c] * w[c] : gy[o + c];
      gx[o + c] = rs * (d - md - xh * mdx);
    }
  }
}

export function rmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c];
    // HF Llama order: (x · rsqrt(mean(x²)+eps)) · w
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) {
      const y = Math.fround(x[o + c] * rs);
      out[o + c] = w ? y * w[c] : y;
    }
  }
}

export function rmsNormBackward(x: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rstd[r];
    // gx = rstd·(dxhat − xhat·mean(dxhat·xhat)), dxhat = gy·w
    let sdx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = x[o + c] * rs;
      const d = w ? gy[o + c] * w[c] : gy[o + c];
      sdx += d * xh;
      if (gw) gw[c] += gy[o + c] * xh;
    }
    const mdx = sdx / cols;
    for (let c = 0; c < cols; c++) {
      const xh = x[o + c] * rs;
      const d = w ? gy[o + c] * w[c] : gy[o + c];
      gx[o + c] = rs * (d - xh * mdx);
    }
  }
}
