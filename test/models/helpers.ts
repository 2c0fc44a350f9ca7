// Shared helpers for the model tests: golden paths and tolerance checks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { loadSafetensors } from "../../src/io/safetensors.js";

export const SHARED = join(import.meta.dirname, "..", "..", "..", "shared");
export const GOLDEN = join(SHARED, "golden");
export const FIXTURES = join(SHARED, "fixtures", "models");

export function goldenJson(name: string): any {
  return JSON.parse(readFileSync(join(GOLDEN, name, "golden.json"), "utf8"));
}
export function goldenTensors(name: string, file: string): Map<string, Tensor> {
  return loadSafetensors(join(GOLDEN, name, file));
}

function flat(x: Tensor | number[] | number | any[]): Float32Array {
  if (x instanceof Tensor) return x.f32();
  if (typeof x === "number") return Float32Array.of(x);
  return Float32Array.from((x as any[]).flat(Infinity) as number[]);
}

/** |a − e| ≤ abs + rel·|e| elementwise (numpy allclose), with a message naming the worst element. */
export function assertClose(actual: Tensor | number[] | number, expected: Tensor | number[] | number | any[], what: string, tol: { abs: number; rel: number } = { abs: 1e-5, rel: 1e-4 }): void {
  const a = flat(actual as any), e = flat(expected);
  if (actual instanceof Tensor && expected instanceof Tensor) {
    assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  }
  assert.equal(a.length, e.length, `${what}: ${a.length} values vs ${e.length} expected`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - e[i]) - (tol.abs + tol.rel * Math.abs(e[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) assert.fail(`${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} (abs ${tol.abs}, rel ${tol.rel})`);
}

export const GRAD_TOL = { abs: 1e-5, rel: 1e-3 };

/** Captures notices instead of printing them. */
export function captureLog(): { log: (s: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (s: string) => lines.push(s), lines };
}
