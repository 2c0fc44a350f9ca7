// Small dense linear algebra for adapters (PiSSA init, SVD adapter combination): a thin SVD by
// one-sided Jacobi rotations in float64. Meant for adapter-sized matrices (hundreds of rows), not
// for large weights.

export interface Svd {
  /** [m, k] row-major, k = min(m, n). */
  U: Float64Array;
  /** [k], descending. */
  S: Float64Array;
  /** [k, n] row-major. */
  Vt: Float64Array;
  k: number;
}

/** Thin SVD of a row-major [m, n] matrix: A = U·diag(S)·Vt. */
export function svd(a: Float64Array, m: number, n: number): Svd {
  if (m < n) {
    // A = (Aᵀ)ᵀ = (U' S V'ᵀ)ᵀ = V' S U'ᵀ
    const t = new Float64Array(n * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
    const r = svd(t, n, m);
    const k = r.k;
    const U = new Float64Array(m * k);
    const Vt = new Float64Array(k * n);
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < m; i++) U[i * k + j] = r.Vt[j * m + i];
      for (let i = 0; i < n; i++) Vt[j * n + i] = r.U[i * k + j];
    }
    return { U, S: r.S, Vt, k };
  }
  // m >= n: orthogonalise the n columns of W = A·V.
  const W = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const eps = 1e-15;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          const wp = W[i * n + p], wq = W[i * n + q];
          alpha += wp * wp;
          beta += wq * wq;
          gamma += wp * wq;
        }
        if (Math.abs(gamma) <= eps * Math.sqrt(alpha * beta) || gamma === 0) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < m; i++) {
          const wp = W[i * n + p], wq = W[i * n + q];
          W[i * n + p] = c * wp - s * wq;
          W[i * n + q] = s * wp + c * wq;
        }
        for (let i = 0; i < n; i++) {
          const vp = V[i * n + p], vq = V[i * n + q];
          V[i * n + p] = c * vp - s * vq;
          V[i * n + q] = s * vp + c * vq;
        }
      }
    }
    if (off < 1e-14) break;
  }
  const sig = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let i = 0; i < m; i++) acc += W[i * n + j] * W[i * n + j];
    sig[j] = Math.sqrt(acc);
  }
  const order = [...Array(n).keys()].sort((x, y) => sig[y] - sig[x]);
  const k = n;
  const U = new Float64Array(m * k), S = new Float64Array(k), Vt = new Float64Array(k * n);
  order.forEach((j, r) => {
    S[r] = sig[j];
    for (let i = 0; i < m; i++) U[i * k + r] = sig[j] > 0 ? W[i * n + j] / sig[j] : 0;
    for (let i = 0; i < n; i++) Vt[r * n + i] = V[i * n + j];
  });
  return { U, S, Vt, k };
}
