// Reverse-mode autograd on a dynamic tape.
// Each op output that needs a gradient gets a GradNode holding its inputs and a backward closure.
// backward() walks the graph in reverse topological order; a node's closure (and the buffers it
// captured) is dropped as soon as it has run, so intermediate memory is released during backward.

import type { Tensor } from "./tensor.js";
import { ShapeError } from "./errors.js";

export type BackwardFn = (gradOut: Tensor) => (Tensor | null)[];

export class GradNode {
  backwardFn: BackwardFn | null;
  constructor(
    readonly name: string,
    /** Emptied after this node's backward ran (unless retainGraph), so the graph behind it can be freed. */
    public inputs: Tensor[],
    backwardFn: BackwardFn,
  ) {
    this.backwardFn = backwardFn;
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

/** Attaches a gradient node to `out` when recording is on and any input requires grad. */
export function record(out: Tensor, name: string, inputs: Tensor[], backwardFn: BackwardFn): Tensor {
  if (!gradEnabled) return out;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) { any = true; break; }
  if (!any) return out;
  out.requiresGrad = true;
  out.gradFn = new GradNode(name, inputs, backwardFn);
  return out;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // iterative DFS to survive deep graphs
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradFn ? t.gradFn.inputs : [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

export interface BackwardOptions {
  retainGraph?: boolean;
}

/** Accumulates d(root)/d(leaf) into every leaf's .grad. `grad` defaults to ones for a scalar root. */
export function runBackward(root: Tensor, grad: Tensor, opts: BackwardOptions = {}): void {
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  const owned = new Set<Tensor>();
  grads.set(root, grad);
  for (let idx = 0; idx < order.length; idx++) {
    const t = order[idx];
    // drop this walk's reference: once its gradient is consumed, an intermediate tensor (and its
    // buffer) stays alive only if the caller still holds it
    (order as (Tensor | null)[])[idx] = null;
    const g = grads.get(t);
    grads.delete(t);
    if (g) owned.delete(g);
    if (!g) continue;
    const node = t.gradFn;
    if (!node) {
      if (t.requiresGrad) t.accumulateGrad(g);
      continue;
    }
    const fn = node.backwardFn;
    if (!fn) {
      throw new ShapeError(
        `backward through '${node.name}' a second time: its saved buffers were released after the first backward (pass { retainGraph: true } to the first call)`,
      );
    }
    let inGrads: (Tensor | null)[];
    const { noGrad } = gradScope;
    inGrads = noGrad(() => fn(g));
    const inputs = node.inputs;
    if (!opts.retainGraph) {
      node.backwardFn = null;
      // cut the edges too: an output the caller keeps (logits, loss) must not pin every activation
      node.inputs = [];
    }
    for (let i = 0; i < inputs.length; i++) {
      const inp = inputs[i];
      const gi = inGrads[i];
      if (!gi || !inp.requiresGrad) continue;
      if (gi.shape.length !== inp.shape.length || gi.shape.some((d, k) => d !== inp.shape[k])) {
        throw new ShapeError(`backward of '${node.name}': gradient for input ${i} has shape [${gi.shape}] but the input has shape [${inp.shape}]`);
      }
      const prev = grads.get(inp);
      if (!prev) grads.set(inp, gi);
      else if (owned.has(prev)) prev.addInPlace(gi);
      else {
        // a fresh sum buffer (only this map refers to it): later branches accumulate into it in place
        const sum = prev.addInto(gi);
        owned.add(sum);
        grads.set(inp, sum);
      }
    }
  }
}

const gradScope = { noGrad };
