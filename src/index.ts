// The public API of peft-ts in Node, and nothing else: the portable core (src/core.ts), with the
// Node implementations registered (src/node.ts), plus what only Node has.
import "./node.js";

export * from "./core.js";
export { setNativeThreads, setBf16Gemm } from "./backend/native/index.js";
export { mpiAvailable } from "./dist/mpi_addon.js";
export { handleStopSignals } from "./train/stop_signals.js";
