// Reference elementwise kernels: unary ops with their derivatives, broadcasting binary ops.
import type { BiasActOp, BinaryOp, F32, UnaryOp } from "../backend.js";

/** erf with max abs error ~1e-7 (Abramowitz–Stegun 7.1.26 is too coarse for gelu; this uses a high-precision series/continued fraction split). */
export function erf(x: number): number {
  // W. J. Cody's rational approximations (as in many libm implementations), double precision.
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const t = x * x;
    const top = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
    const bot = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
    return (x * top) / bot;
  }
  if (ax < 4) {
    const top = (((((((-1.36864857382716707e-7 * ax + 0.564195517478973971) * ax + 7.21175825088309366) * ax + 43.1622272220567353) * ax + 152.989285046940404) * ax + 339.320816734343687) * ax + 451.918953711872942) * ax + 300.459261020161601);
    const bot = (((((((ax + 12.7827273196294235) * ax + 77.0001529352294730) * ax + 277.585444743987643) * ax + 638.980264465631520) * ax + 931.354094850609940) * ax + 790.950925327898027) * ax + 300.459260956983293);
    const r = 1 - Math.exp(-ax * ax) * (top / bot);
    return x < 0 ? -r : r;
  }
  const z = 1 / (ax * ax);
  const top = ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766) * z + 6.58749161529837803e-4;
  const bot = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z + 2.33520497626869185e-3;
  const r = 1 - (Math.exp(-ax * ax) / ax) * (0.564189583547756287 - (z * top) / bot);
  return x < 0 ? -r : r;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function unary(op: UnaryOp, x: F32, out: F32, alpha: number): void {
  const n = x.length;
  switch (op) {
    case "neg": for (let i = 0; i < n; i++) out[i] = -x[i]; return;
    case "exp": for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]); return;
    case "log": for (let i = 0; i < n; i++) out[i] = Math.log(x[i]); return;
    case "sqrt": for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); return;
    case "rsqrt": for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]); return;
    case "abs": for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]); return;
    case "tanh": for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]); return;
    case "sigmoid": for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-x[i])); return;
    case "relu": for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0; return;
    case "silu": for (let i = 0; i < n; i++) out[i] = x[i] / (1 + Math.exp(-x[i])); return;
    case "gelu": for (let i = 0; i < n; i++) out[i] = 0.5 * x[i] * (1 + erf(x[i] * INV_SQRT2)); return;
    case "gelu_tanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
      return;
    case "square": for (let i = 0; i < n; i++) out[i] = x[i] * x[i]; return;
    case "reciprocal": for (let i = 0; i < n; i++) out[i] = 1 / x[i]; return;
  }
  void alpha;
}

export function unaryBackward(op: UnaryOp, x: F32, y: F32, gy: F32, gx: F32, alpha: number): void {
  const n = x.length;
  switch (op) {
    case "neg": for (let i = 0; i < n; i++) gx[i] = -gy[i]; return;
    case "exp": for (let i = 0; i < n; i++) gx[i] = gy[i] * y[i]; return;
    case "log": for (let i = 0; i < n; i++) gx[i] = gy[i] / x[i]; return;
    case "sqrt": for (let i = 0; i < n; i++) gx[i] = gy[i] * 0.5 / y[i]; return;
    case "rsqrt": for (let i = 0; i < n; i++) gx[i] = gy[i] * -0.5 * y[i] * y[i] * y[i]; return;
    case "abs": for (let i = 0; i < n; i++) gx[i] = gy[i] * Math.sign(x[i]); return;
    case "tanh": for (let i = 0; i < n; i++) gx[i] = gy[i] * (1 - y[i] * y[i]); return;
    case "sigmoid": for (let i = 0; i < n; i++) gx[i] = gy[i] * y[i] * (1 - y[i]); return;
    case "relu": for (let i = 0; i < n; i++) gx[i] = x[i] > 0 ? gy[i] : 0; return;
    case "silu":
      for (let i = 0; i < n; i++) {
        const s = 1 / (1 + Math.exp(-x[i]));
        gx[i] = gy[i] * s * (1 + x[i] * (1 - s));
      }
      return;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        gx[i] = gy[i] * (0.5 * (1 + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    case "gelu_tanh":
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        const t = Math.tanh(u);
        const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
        gx[i] = gy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
      }
      return;
    case "square": for (let i = 0; i < n; i++) gx[i] = gy[i] * 2 * x[i]; return;
    case "reciprocal": for (let i = 0; i < n; i++) gx[i] = -gy[i] * y[i] * y[i]; return;
  }
  void alpha;
}

function apply(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return (a, b) => a * b;
    case "div": return (a, b) => a / b;
    case "pow": return (a, b) => Math.pow(a, b);
    case "max": return (a, b) => (a >= b || Number.isNaN(a) ? a : b);
    case "min": return (a, b) => (a <= b || Number.isNaN(a) ? a : b);
  }
}

export function binary(op: BinaryOp, a: F32, b: F32, out: F32, shape: number[], aStrides: number[], bStrides: number[]): void {
  const nd = shape.length;
  const n = out.length;
  const f = apply(op);
  if (nd === 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  // fast path: identical contiguous layouts
  let contigA = true, contigB = true, acc = 1;
  for (let d = nd - 1; d >= 0; d--) {
    if (shape[d] !== 1) {
      if (aStrides[d] !== acc) contigA = false;
      if (bStrides[d] !== acc) contigB = false;
    }
    acc *= shape[d];
  }
  if (contigA && contigB) {
    switch (op) {
      case "add": for (let i = 0; i < n; i++) out[i] = a[i] + b[i]; return;
      case "sub": for (let i = 0; i < n; i++) out[i] = a[i] - b[i]; return;
      case "mul": for (let i = 0; i < n; i++) out[i] = a[i] * b[i]; return;
      case "div": for (let i = 0; i < n; i++) out[i] = a[i] / b[i]; return;
      default: for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]); return;
    }
  }
  const last = nd - 1;
  const inner = shape[last], as = aStrides[last], bs = bStrides[last];
  const idx = new Array<number>(nd).fill(0);
  let ao = 0, bo = 0;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0; i < inner; i++) out[o + i] = f(a[ao + i * as], b[bo + i * bs]);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      ao += aStrides[d];
      bo += bStrides[d];
      if (idx[d] < shape[d]) break;
      ao -= aStrides[d] * shape[d];
      bo -= bStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export function affine(x: F32, out: F32, alpha: number, beta: number): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * alpha + beta;
}

/** Fused bias + activation: z = x + bias written back into x, out = act(z) (the unary kernel's act). */
export function biasAct(op: BiasActOp, x: F32, bias: F32 | null, out: F32, rows: number, cols: number): void {
  const n = rows * cols;
  if (bias) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) x[o + c] += bias[c];
    }
  }
  unary(op, x.subarray(0, n), out.subarray(0, n), 0);
}

/** gx = gy·act'(z); gBias (if given) += column sums of gx, summed in row order in f32 (as sum()). */
export function biasActBackward(op: BiasActOp, z: F32, gy: F32, gx: F32, gBias: F32 | null, rows: number, cols: number): void {
  const n = rows * cols;
  const zn = z.subarray(0, n);
  // these ops' derivatives do not read y
  unaryBackward(op, zn, zn, gy.subarray(0, n), gx.subarray(0, n), 0);
  if (!gBias) return;
  const acc = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += gx[o + c];
  }
  for (let c = 0; c < cols; c++) gBias[c] += acc[c];
}
