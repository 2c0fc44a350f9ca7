// The browser's worker spawner for the wasm thread pool (Web Workers; no Node built-ins). By default a
// worker runs WORKER_SOURCE from a Blob URL, so nothing has to be served; workerUrl names a script
// instead (a page whose Content-Security-Policy forbids blob: workers), which must define
// runKernelWorker the same way and call it with the first message's data. Shared memory needs a
// cross-origin isolated page (COOP: same-origin, COEP: require-corp), else the loader uses one thread.
import type { SpawnWorker } from "./pool.js";
import { WORKER_SOURCE } from "./worker_source.js";

let blobUrl: string | null = null;

export function webWorkerSpawner(workerUrl?: string | URL): SpawnWorker {
  return (init) => {
    if (!workerUrl && !blobUrl) {
      const src = `${WORKER_SOURCE}\nself.onmessage = (e) => runKernelWorker(e.data);`;
      blobUrl = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    }
    const w = new Worker(workerUrl ?? blobUrl!);
    w.postMessage(init);
    return { terminate: () => w.terminate() };
  };
}

/** Whether this JS realm can start Web Workers. */
export function hasWebWorkers(): boolean {
  return typeof Worker === "function" && typeof Blob === "function" && typeof URL?.createObjectURL === "function";
}

/** The default thread count in a browser: navigator.hardwareConcurrency (1 if unknown). */
export function browserCores(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency || 1;
}
