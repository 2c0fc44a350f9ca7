// WGSL pieces shared by the kernels: flat ids over a 2-D grid, workgroup reductions, and the f32
// math the elementwise and fused kernels use (erf, GELU, SiLU… with the TS reference's formulas).
// All arithmetic is f32: WGSL has no f64, so sums that the reference keeps in double are f32 here
// (the tests' tolerances say how far that moves results).

/** Threads per workgroup of the row kernels (one workgroup per row) and of the elementwise kernels. */
export const WG = 64;

/** `group_id(wid, nwg)`: the flat workgroup index of a grid from WebGpuDevice.grid. Also -inf and NaN at run time. */
export const GRID = /* wgsl */ `
fn group_id(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }
fn neg_inf() -> f32 { var b = 0xff800000u; return bitcast<f32>(b); }
fn nan_f32() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
`;

/** Workgroup-wide sum / max of one f32 per thread (call from uniform control flow, every thread). */
export const REDUCE = /* wgsl */ `
var<workgroup> red: array<f32, ${WG}>;
fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
`;

/** erf (W. J. Cody's rational approximations, as the TS reference, in f32) and the activations. */
export const MATH = /* wgsl */ `
fn erf_f(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.5) {
    let t = x * x;
    let top = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
    let bot = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
    return x * top / bot;
  }
  var r: f32;
  if (ax < 4.0) {
    let top = ((((((-1.36864857382716707e-7 * ax + 0.564195517478973971) * ax + 7.21175825088309366) * ax + 43.1622272220567353) * ax + 152.989285046940404) * ax + 339.320816734343687) * ax + 451.918953711872942) * ax + 300.459261020161601;
    let bot = ((((((ax + 12.7827273196294235) * ax + 77.0001529352294730) * ax + 277.585444743987643) * ax + 638.980264465631520) * ax + 931.354094850609940) * ax + 790.950925327898027) * ax + 300.459260956983293;
    r = 1.0 - exp(-ax * ax) * (top / bot);
  } else {
    let z = 1.0 / (ax * ax);
    let top = ((((0.0163153871373020978 * z + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766) * z + 6.58749161529837803e-4;
    let bot = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z + 0.0605183413124413191) * z + 2.33520497626869185e-3;
    r = 1.0 - (exp(-ax * ax) / ax) * (0.564189583547756287 - z * top / bot);
  }
  return select(r, -r, x < 0.0);
}
// tanh saturates to ±1 in f32 beyond |x| = 9; the clamp keeps exp-based implementations finite
fn tanh_f(x: f32) -> f32 { return tanh(clamp(x, -10.0, 10.0)); }
fn sigmoid_f(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
fn gelu_f(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f(x * INV_SQRT2)); }
// tanh-GELU as x·σ(2u) (0.5·(1 + tanh u) = σ(2u)): no cancellation for negative x, where 1 + tanh u → 0 in f32
fn gelu_tanh_u(x: f32) -> f32 { return SQRT_2_OVER_PI * (x + 0.044715 * x * x * x); }
fn gelu_tanh_f(x: f32) -> f32 { return x * sigmoid_f(2.0 * gelu_tanh_u(x)); }
fn gelu_grad(x: f32) -> f32 { return 0.5 * (1.0 + erf_f(x * INV_SQRT2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x); }
// d/dx: 0.5·(1 + t) + 0.5·x·(1 − t²)·u' with 0.5·(1 + t) = s = σ(2u), 1 − t² = 4·s·σ(−2u)
fn gelu_tanh_grad(x: f32) -> f32 {
  let u = gelu_tanh_u(x);
  let s = sigmoid_f(2.0 * u);
  let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
  return s + 2.0 * x * s * sigmoid_f(-2.0 * u) * du;
}
fn silu_grad(x: f32) -> f32 { let s = sigmoid_f(x); return s * (1.0 + x * (1.0 - s)); }
`;

/** Storage-buffer declarations numbered from @binding(1) (the uniform is @binding(0)), skipping absent ones. */
export function declare(bufs: ([string, "read" | "read_write", "f32" | "i32"] | null)[]): string {
  return bufs.filter((b) => b !== null).map(([name, access, t], i) => `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${t}>;`).join("\n");
}
