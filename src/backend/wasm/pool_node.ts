// Node's worker spawner for the wasm thread pool (worker_threads; Node-only, reached from index.ts's
// loadWasmBackend). Each worker evaluates WORKER_SOURCE with its init as workerData and is unref'd,
// so an idle pool never keeps the process alive.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { SpawnWorker } from "./pool.js";
import { WORKER_SOURCE } from "./worker_source.js";

export const spawnNodeWorker: SpawnWorker = (init) => {
  const w = new Worker(`${WORKER_SOURCE}\nrunKernelWorker(require("node:worker_threads").workerData);`, { eval: true, workerData: init });
  w.unref();
  return { terminate: () => void w.terminate() };
};

/** The default thread count in Node: every core the process may use. */
export function nodeCores(): number {
  return availableParallelism();
}
