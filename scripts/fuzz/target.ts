// What a fuzz target is: one reader (or a family of readers of one input kind) and how to make its inputs.

import type { FuzzRng } from "./mutate.js";

export interface FuzzTarget {
  name: string;
  /** Loads the base inputs (the repo's fixtures) once per child process. */
  setup(): Promise<void> | void;
  /** Writes one mutated input into `dir` (empty, private to the case), runs the reader(s) on it and returns what they read. */
  run(r: FuzzRng, dir: string): Promise<unknown> | unknown;
  /** Removes what setup wrote (optional). */
  teardown?(): void;
}

/** Root of the checkout (scripts/fuzz/ → ../..). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
/** The shared golden outputs and fixtures (read only). */
export const SHARED = new URL("../../../shared/", import.meta.url).pathname;
