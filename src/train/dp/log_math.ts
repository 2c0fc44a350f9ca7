// Log-space arithmetic for the privacy accountants (rdp.ts, gdp.ts), in double precision:
// log(e^a + e^b), log(e^a − e^b), log erfc(x) without underflow, and the normal CDF.
// erfc: for x < 2 from erf's series with positive terms, erf(x) = 2/√π · e^(−x²) · Σ 2^n x^(2n+1) /
// (1·3···(2n+1)) (1 − erf loses ~1e-16/erfc(x) relative: < 3e-14 there); beyond, erfc(x) = e^(−x²)/√π / K(x) with Laplace's continued fraction
// K(x) = x + (1/2)/(x + 1/(x + (3/2)/(x + …))) evaluated by the modified Lentz method, so log erfc(x)
// = −x² − log √π − log K(x) holds for any large x.

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const SERIES_UP_TO = 2;

/** log(e^a + e^b). */
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

/** log(e^a − e^b), a ≥ b. */
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError(`logSub: the result of e^${a} − e^${b} must be non-negative`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  const d = Math.expm1(a - b);
  return Number.isFinite(d) ? Math.log(d) + b : a;
}

/** erf(x) for 0 ≤ x < 2: the positive-term series. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/** K(x) of erfc(x) = e^(−x²) / (√π K(x)), x ≥ 2 (modified Lentz). */
function laplaceFraction(x: number): number {
  const tiny = 1e-300;
  let f = x, c = x, d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f;
}

/** erfc(x), any x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < SERIES_UP_TO) return 1 - erfSeries(x);
  return Math.exp(-x * x - LOG_SQRT_PI) / laplaceFraction(x);
}

/** log erfc(x), finite for every finite x (no underflow for large x). */
export function logErfc(x: number): number {
  if (x < SERIES_UP_TO) return Math.log(erfc(x));
  return -x * x - LOG_SQRT_PI - Math.log(laplaceFraction(x));
}

/** The standard normal CDF Φ(x) = erfc(−x/√2)/2. */
export function normCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** log Φ(x). */
export function logNormCdf(x: number): number {
  return Math.log(0.5) + logErfc(-x / Math.SQRT2);
}
