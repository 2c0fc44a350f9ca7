// What the environment says about an mpirun launch: no Node built-ins, so the core (and a browser,
// where it is always "not launched") can ask; the MPI addon itself is Node-only (mpi_addon.ts).
import { envVars } from "../platform/env.js";

export const MPI_INSTALL_HINT = "apt-get install openmpi-bin libopenmpi-dev, then npm run build:native";

/** What the environment says about an mpirun launch (OpenMPI's OMPI_COMM_WORLD_* or PMIx's PMIX_RANK). */
export interface LaunchEnv {
  rank: number;
  size: number | null;
  localRank: number;
  localSize: number;
}

export function mpiLaunchEnv(env: Record<string, string | undefined> = envVars()): LaunchEnv | null {
  const int = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  const rank = int(env.OMPI_COMM_WORLD_RANK) ?? int(env.PMIX_RANK);
  if (rank === null) return null;
  return {
    rank,
    size: int(env.OMPI_COMM_WORLD_SIZE),
    localRank: int(env.OMPI_COMM_WORLD_LOCAL_RANK) ?? 0,
    localSize: int(env.OMPI_COMM_WORLD_LOCAL_SIZE) ?? 1,
  };
}
