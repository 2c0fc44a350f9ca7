// Gaussian noise for DP-SGD. By default from the platform's CSPRNG (crypto.getRandomValues through
// src/platform): uniforms with 53 random bits, Box–Muller. A seeded generator (tensor/random's Rng)
// only when a caller asks for it explicitly (tests): its stream is predictable, so it gives no privacy.

import { randomBytes } from "../../platform/env.js";
import { Rng } from "../../tensor/random.js";

/** Fills `out` with N(0, std²) draws. */
export type GaussianSource = (out: Float32Array, std: number) => void;

const TWO_53 = 2 ** 53;

/** n uniforms in (0, 1) from the CSPRNG. */
function cryptoUniforms(n: number): Float64Array {
  const bytes = randomBytes(8 * n);
  const u = new Float64Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    const hi = view.getUint32(8 * i) >>> 11, lo = view.getUint32(8 * i + 4); // 21 + 32 bits
    u[i] = (hi * 2 ** 32 + lo + 0.5) / TWO_53;
  }
  return u;
}

/** Gaussian noise from crypto.getRandomValues (the default). */
export const cryptoGaussian: GaussianSource = (out, std) => {
  const CHUNK = 8192; // getRandomValues takes at most 65,536 bytes a call
  for (let start = 0; start < out.length; start += CHUNK) {
    const n = Math.min(CHUNK, out.length - start);
    const u = cryptoUniforms(n + (n & 1));
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(u[i])) * std, a = 2 * Math.PI * u[i + 1];
      out[start + i] = r * Math.cos(a);
      if (i + 1 < n) out[start + i + 1] = r * Math.sin(a);
    }
  }
};

/** A seeded (NOT private) generator, for tests that ask for reproducible noise. */
export function seededGaussian(seed: number): GaussianSource {
  const rng = new Rng(seed);
  return (out, std) => { rng.fillNormal(out, 0, std); };
}
