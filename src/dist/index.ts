export type { CommHandle, ProcessGroup, CommCounters, KindCounters } from "./process_group.js";
export { LocalGroup } from "./process_group.js";
export { MpiGroup, type MpiGroupInfo } from "./mpi_group.js";
export { initDistributed, getProcessGroup, activeProcessGroup, registerMpiConnector, type InitDistributedOptions, type MpiConnector } from "./init.js";
export { mpiAvailable, mpiLaunchEnv, type LaunchEnv } from "./mpi_addon.js";
export { parallelLayout, checkTensorParallelSize, type ParallelLayout } from "./layout.js";
