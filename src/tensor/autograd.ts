// Reverse-mode autograd on a dynamic tape.
// Each op output that needs a gradient gets a GradNode with one edge per input and a backward
// closure. An edge points at the input's own GradNode (an intermediate result) or at the input
// tensor itself when it is a leaf that requires grad (a parameter); it never holds an intermediate
// tensor, so a forward result's buffer stays alive only while something still needs it: the caller,
// or a backward closure that saved it (PyTorch's saved tensors). Ops capture in their closures only
// what their backward reads (shapes, flags, the buffers they need), never whole input tensors.
// backward() walks the nodes in reverse topological order; a node's closure (and the buffers it
// captured) is dropped as soon as it has run, so memory is released during backward too.

import type { Tensor } from "./tensor.js";
import { ShapeError } from "./errors.js";

export type BackwardFn = (gradOut: Tensor) => (Tensor | null)[];

/** Where an input's gradient goes: its producer's node, a leaf tensor requiring grad, or nowhere. */
export type Edge = GradNode | Tensor | null;

export class GradNode {
  backwardFn: BackwardFn | null;
  /** One edge per op input (null where no gradient is wanted). Emptied after this node's backward ran (unless retainGraph). */
  public inputs: Edge[];
  /** The input shapes, to check the gradients a backward returns. */
  readonly inputShapes: (readonly number[])[];
  constructor(
    readonly name: string,
    inputs: Tensor[],
    backwardFn: BackwardFn,
  ) {
    this.backwardFn = backwardFn;
    this.inputs = inputs.map((t) => (!t.requiresGrad ? null : t.gradFn ?? t));
    this.inputShapes = inputs.map((t) => t.shape);
  }
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording disabled (like torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with gradient recording enabled (inside a noGrad scope, e.g. for gradient checkpointing). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Attaches a gradient node to `out` when recording is on and any input requires grad. backwardFn
 * returns one gradient per input (null where none is wanted). It should capture only what it reads
 * (shapes, flags, the buffers it needs), not the input tensors: whatever it captures stays alive until
 * the backward ran (docs/DESIGN.md, "Autograd").
 */
export function record(out: Tensor, name: string, inputs: Tensor[], backwardFn: BackwardFn): Tensor {
  if (!gradEnabled) return out;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) { any = true; break; }
  if (!any) return out;
  out.requiresGrad = true;
  out.gradFn = new GradNode(name, inputs, backwardFn);
  return out;
}

type Vertex = GradNode | Tensor;

/** Nodes in reverse topological order, and how many edges reach each leaf from them. */
function topoOrder(root: GradNode, leafUses: Map<Tensor, number>): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  // iterative DFS to survive deep graphs
  const stack: [GradNode, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [n, i] = top;
    if (i < n.inputs.length) {
      top[1] = i + 1;
      const c = n.inputs[i];
      if (c instanceof GradNode) {
        if (!seen.has(c)) {
          seen.add(c);
          stack.push([c, 0]);
        }
      } else if (c) leafUses.set(c, (leafUses.get(c) ?? 0) + 1);
    } else {
      stack.pop();
      order.push(n);
    }
  }
  return order.reverse();
}

/** Called when a leaf's gradient is final in a backward pass (data parallelism starts its allreduce bucket). */
export type LeafGradHook = (leaf: Tensor) => void;
let leafGradHook: LeafGradHook | null = null;
let backwardDepth = 0;

/**
 * Sets the hook called once per leaf reached by an outermost backward, right after its summed
 * gradient went into .grad (its last use ran); returns the previous hook. Leaves of a nested
 * backward (gradient checkpointing's recomputation) are not reported: those gradients are final
 * only when the outer pass ends. null removes it (one null test per leaf when unused).
 */
export function setLeafGradHook(hook: LeafGradHook | null): LeafGradHook | null {
  const prev = leafGradHook;
  leafGradHook = hook;
  return prev;
}

export interface BackwardOptions {
  retainGraph?: boolean;
}

/** Accumulates d(root)/d(leaf) into every leaf's .grad. `grad` defaults to ones for a scalar root. */
export function runBackward(root: Tensor, grad: Tensor, opts: BackwardOptions = {}): void {
  backwardDepth++;
  try {
    walkBackward(root, grad, opts, backwardDepth === 1 ? leafGradHook : null);
  } finally {
    backwardDepth--;
  }
}

function walkBackward(root: Tensor, grad: Tensor, opts: BackwardOptions, hook: LeafGradHook | null): void {
  if (!root.gradFn) {
    // a leaf: its own gradient
    if (root.requiresGrad) {
      root.accumulateGrad(grad);
      hook?.(root);
    }
    return;
  }
  const leafUses = new Map<Tensor, number>();
  const order = topoOrder(root.gradFn, leafUses);
  const grads = new Map<Vertex, Tensor>();
  const owned = new Set<Tensor>();
  grads.set(root.gradFn, grad);
  const add = (v: Vertex, gi: Tensor) => {
    const prev = grads.get(v);
    if (!prev) grads.set(v, gi);
    else if (owned.has(prev)) prev.addInPlace(gi);
    else {
      // a fresh sum buffer (only this map refers to it): later branches accumulate into it in place
      const sum = prev.addInto(gi);
      owned.add(sum);
      grads.set(v, sum);
    }
  };
  // a leaf whose every use has run gets its summed gradient at once (and the temporary goes)
  const settleLeaves = (inputs: Edge[]) => {
    for (const inp of inputs) {
      if (!inp || inp instanceof GradNode) continue;
      const left = leafUses.get(inp)! - 1;
      leafUses.set(inp, left);
      if (left > 0) continue;
      const lg = grads.get(inp);
      if (lg) {
        grads.delete(inp);
        owned.delete(lg);
        inp.accumulateGrad(lg);
      }
      hook?.(inp);
    }
  };
  for (let idx = 0; idx < order.length; idx++) {
    const node = order[idx];
    // drop this walk's reference: once its gradient is consumed, a node (and what its closure
    // saved) stays alive only if something else still holds it
    (order as (GradNode | null)[])[idx] = null;
    const g = grads.get(node);
    grads.delete(node);
    if (g) owned.delete(g);
    if (!g) {
      settleLeaves(node.inputs);
      continue;
    }
    const fn = node.backwardFn;
    if (!fn) {
      throw new ShapeError(
        `backward through '${node.name}' a second time: its saved buffers were released after the first backward (pass { retainGraph: true } to the first call)`,
      );
    }
    const inGrads = gradScope.noGrad(() => fn(g));
    const inputs = node.inputs;
    if (!opts.retainGraph) {
      node.backwardFn = null;
      // cut the edges too: an output the caller keeps (logits, loss) must not pin the graph behind it
      node.inputs = [];
    }
    for (let i = 0; i < inputs.length; i++) {
      const inp = inputs[i];
      const gi = inGrads[i];
      if (!gi || !inp) continue;
      const shape = node.inputShapes[i];
      if (gi.shape.length !== shape.length || gi.shape.some((d, k) => d !== shape[k])) {
        throw new ShapeError(`backward of '${node.name}': gradient for input ${i} has shape [${gi.shape}] but the input has shape [${shape}]`);
      }
      add(inp, gi);
    }
    settleLeaves(inputs);
  }
}

const gradScope = { noGrad };
