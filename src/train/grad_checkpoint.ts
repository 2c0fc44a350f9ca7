// Gradient checkpointing (torch.utils.checkpoint): run a block without recording, keep only its
// inputs, and recompute it with recording on during backward. The RNG state is restored for the
// recomputation so dropout draws the same masks.

import { Tensor } from "../tensor/tensor.js";
import { enableGrad, isGradEnabled, noGrad, record } from "../tensor/autograd.js";
import { globalRng } from "../tensor/random.js";
import { ModuleList, type Module } from "../nn/module.js";

type Out = Tensor | Record<string, unknown> | unknown[];

/** The first Tensor in a block's output (a Tensor, an array, or an object's fields in order). */
function primary(out: unknown): { get: (o: unknown) => Tensor; set: (o: unknown, t: Tensor) => unknown } | null {
  if (out instanceof Tensor) return { get: (o) => o as Tensor, set: (_o, t) => t };
  if (Array.isArray(out)) {
    const i = out.findIndex((x) => x instanceof Tensor);
    if (i < 0) return null;
    return { get: (o) => (o as unknown[])[i] as Tensor, set: (o, t) => { const c = (o as unknown[]).slice(); c[i] = t; return c; } };
  }
  if (out && typeof out === "object") {
    const k = Object.keys(out).find((key) => (out as Record<string, unknown>)[key] instanceof Tensor);
    if (k === undefined) return null;
    return { get: (o) => (o as Record<string, Tensor>)[k], set: (o, t) => ({ ...(o as object), [k]: t }) };
  }
  return null;
}

/** Tensors inside args (top level, arrays and plain objects, a few levels deep). */
function collectTensors(x: unknown, out: Tensor[], depth = 0): void {
  if (x instanceof Tensor) out.push(x);
  else if (depth < 4 && Array.isArray(x)) for (const v of x) collectTensors(v, out, depth + 1);
  else if (depth < 4 && x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) collectTensors(v, out, depth + 1);
  }
}

/** A copy of x with each tensor replaced by the next one of `repl` (same traversal order). */
function replaceTensors(x: unknown, repl: Tensor[], pos: { i: number }, depth = 0): unknown {
  if (x instanceof Tensor) return repl[pos.i++];
  if (depth < 4 && Array.isArray(x)) return x.map((v) => replaceTensors(v, repl, pos, depth + 1));
  if (depth < 4 && x && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, replaceTensors(v, repl, pos, depth + 1)]));
  }
  return x;
}

/**
 * Runs fn(...args) without keeping its activations; the gradient of the output's first tensor
 * flows back through a recomputation. `params` are the trainable tensors fn uses (their grads
 * are routed through this node, so they get gradients even when no input requires grad).
 * Other tensors in the output are returned without gradient (e.g. a key/value cache).
 */
export function checkpoint<T extends Out>(fn: (...args: unknown[]) => T, args: unknown[], params: Tensor[] = []): T {
  const trainable = params.filter((p) => p.requiresGrad);
  // tensors nested in args (e.g. a prefix key/value pair) are inputs too, so the recomputation
  // stops at them instead of walking into (and releasing) the outer graph
  const tensorArgs: Tensor[] = [];
  collectTensors(args, tensorArgs);
  if (!isGradEnabled() || (trainable.length === 0 && !tensorArgs.some((t) => t.requiresGrad))) return fn(...args);
  const rngBefore = globalRng.getState();
  const out = noGrad(() => fn(...args));
  const acc = primary(out);
  if (!acc) return out;
  const y = acc.get(out);
  const result = new Tensor(y.storage, y.shape, y.dtype, y.strides, y.offset);
  const inputs = [...tensorArgs, ...trainable];
  const recorded = record(result, "checkpoint", inputs, (g) => {
    const rngAfter = globalRng.getState();
    globalRng.setState(rngBefore);
    const leaves = tensorArgs.map((t) => {
      const d = t.detach();
      if (t.requiresGrad) d.requiresGrad = true;
      return d;
    });
    const args2 = replaceTensors(args, leaves, { i: 0 }) as unknown[];
    // the parameters' own .grad is set aside so this node can return their gradients
    const saved = trainable.map((p) => p.grad);
    trainable.forEach((p) => (p.grad = null));
    try {
      const y2 = enableGrad(() => {
        const o2 = fn(...args2);
        return primary(o2)!.get(o2);
      });
      if (y2.requiresGrad) enableGrad(() => y2.backward(g));
      return [...leaves.map((l) => l.grad), ...trainable.map((p) => p.grad)];
    } finally {
      trainable.forEach((p, i) => (p.grad = saved[i]));
      globalRng.setState(rngAfter);
    }
  });
  return acc.set(out, recorded) as T;
}

const WRAPPED = Symbol("gradientCheckpointing");

/**
 * Wraps the forward of every block in the model's layer lists (ModuleLists named layer, h,
 * layers or blocks) with checkpoint(); returns the number of wrapped blocks. Works for models
 * that call each block through block.forward(...) (all models in src/models do).
 */
export function enableGradientCheckpointing(model: Module): number {
  let n = 0;
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof ModuleList)) continue;
    const last = path.split(".").pop();
    if (!["layer", "h", "layers", "blocks"].includes(last ?? "")) continue;
    for (const block of m) {
      const b = block as Module & { forward: (...a: unknown[]) => Out; [WRAPPED]?: (...a: unknown[]) => Out };
      if (b[WRAPPED]) continue;
      const orig = b.forward.bind(b);
      b[WRAPPED] = orig;
      b.forward = (...a: unknown[]) => (b.training ? checkpoint(orig, a, b.parameters()) : orig(...a));
      n++;
    }
  }
  return n;
}

/** Undoes enableGradientCheckpointing. */
export function disableGradientCheckpointing(model: Module): void {
  for (const [, m] of model.namedModules()) {
    const b = m as Module & { forward?: unknown; [WRAPPED]?: unknown };
    if (b[WRAPPED]) {
      delete (b as { forward?: unknown }).forward;
      delete b[WRAPPED];
    }
  }
}
