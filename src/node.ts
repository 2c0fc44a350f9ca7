// The Node side of the library: importing this module registers the Node implementations behind
// the core's interfaces (node:fs files, node:os host facts, the native addon and the wasm module
// file as backends, the terminal progress bar, MPI process groups). src/index.ts and the CLI import
// it; the browser entry (src/browser.ts) does not, so none of this reaches a browser bundle.
import { setFiles } from "./platform/files.js";
import { nodeFiles } from "./platform/node_files.js";
import { setHostInfo } from "./platform/env.js";
import { nodeHost } from "./platform/node_host.js";
import { registerBackendLoaders } from "./backend/registry.js";
import { loadNativeBackend } from "./backend/native/index.js";
import { loadWasmBackend, registerWasmModuleFile, registerWasmThreadHost } from "./backend/wasm/index.js";
import { readWasmModuleBytes, wasmModulePath } from "./backend/wasm/file_bytes.js";
import { nodeCores, spawnNodeWorker } from "./backend/wasm/pool_node.js";
import { registerMpiConnector } from "./dist/init.js";
import { loadMpiAddon, type MpiAddon } from "./dist/mpi_addon.js";
import { MpiGroup } from "./dist/mpi_group.js";
import { registerProgressBar } from "./train/progress.js";
import { BarProgress } from "./train/progress_bar.js";

setFiles(nodeFiles);
setHostInfo(nodeHost);
registerWasmModuleFile({ path: wasmModulePath, read: readWasmModuleBytes });
registerWasmThreadHost({ spawn: spawnNodeWorker, cores: nodeCores });
registerBackendLoaders({ native: loadNativeBackend, wasm: loadWasmBackend });
registerMpiConnector({
  loadAddon: loadMpiAddon,
  createGroup: (addon, launch, opts) => new MpiGroup(addon as MpiAddon, launch, opts),
});
registerProgressBar(() => new BarProgress());
