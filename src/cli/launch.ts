// `peft-ts train --nproc_per_node N [--hostfile FILE]`: starts the same command under `mpirun`
// (as torchrun --nproc_per_node does for PyTorch), one rank per process; the ranks find each
// other through MPI (src/dist). A run that mpirun started itself (OMPI_COMM_WORLD_SIZE set) is a
// rank and never launches again.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { constants, cpus } from "node:os";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { packageRoot } from "./paths.js";
import { mpiAvailable, mpiLaunchEnv } from "../dist/index.js";

/** The flags that only the launcher reads (they are not passed to the ranks). */
export const LAUNCH_FLAGS = ["nproc_per_node", "hostfile"] as const;

/** Rank and world size when this process was started by mpirun (src/dist's reading of its environment), else null. */
export function mpiRankFromEnv(env: NodeJS.ProcessEnv = process.env): { rank: number; worldSize: number } | null {
  const e = mpiLaunchEnv(env);
  return e && e.size !== null ? { rank: e.rank, worldSize: e.size } : null;
}

/** True for the process that prints and writes files: rank 0, or the only process. */
export function isMainProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  const r = mpiRankFromEnv(env);
  return r === null || r.rank === 0;
}

/** argv without the launcher's own flags (as --flag value, --flag=value, snake or kebab case). */
export function stripLaunchFlags(argv: string[]): string[] {
  const names = new Set(LAUNCH_FLAGS.flatMap((n) => [`--${n}`, `--${n.replace(/_/g, "-")}`]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.split("=")[0];
    if (!names.has(name)) {
      out.push(a);
      continue;
    }
    if (!a.includes("=")) i++;
  }
  return out;
}

/**
 * The mpirun command line that runs `argv` (without the launcher flags) with `nproc` ranks per
 * machine, as torchrun's --nproc_per_node: on this machine alone, or on every host of the hostfile.
 */
export function mpirunArgs(argv: string[], nproc: number, hostfile: string | null): string[] {
  const bin = join(packageRoot(), "bin", "peft-ts.js");
  const args = hostfile ? ["--hostfile", hostfile, "--npernode", String(nproc)] : ["-np", String(nproc)];
  // more ranks than cores on this machine
  if (!hostfile && nproc > cpus().length) args.push("--oversubscribe");
  // one core per rank unless the user binds them: the ranks' own threads share it
  args.push("--bind-to", "none");
  return [...args, process.execPath, bin, ...stripLaunchFlags(argv)];
}

/** Runs argv under mpirun with nproc ranks; resolves to mpirun's exit code. */
export async function launchRanks(argv: string[], nproc: number, hostfile: string | null): Promise<number> {
  if (!Number.isInteger(nproc) || nproc < 1) throw new CliError(`--nproc_per_node must be a positive integer, got ${nproc}`);
  if (hostfile && !existsSync(hostfile)) throw new CliError(`--hostfile: file not found: ${hostfile}`);
  const avail = mpiAvailable();
  if (!avail.ok) throw new CliError(`--nproc_per_node ${nproc}: ${avail.why}`, 1);
  const env = { ...process.env };
  // mpirun refuses root unless told; CI machines run as root
  if (process.getuid?.() === 0) {
    env.OMPI_ALLOW_RUN_AS_ROOT = "1";
    env.OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = "1";
  }
  // its own process group: a terminal's Ctrl-C reaches this launcher only, not mpirun (which
  // would kill the ranks before they checkpoint)
  const child = spawn("mpirun", mpirunArgs(argv, nproc, hostfile), { stdio: "inherit", env, detached: true });
  const stopped = forwardStopSignals(child);
  return new Promise((resolve, reject) => {
    child.on("error", (e) => {
      stopped.release();
      reject(new CliError(`could not start mpirun: ${e.message}`, 1));
    });
    child.on("exit", (code, signal) => {
      const first = stopped.release();
      if (first) resolve(128 + constants.signals[first]);
      else resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
    });
  });
}

/**
 * SIGINT/SIGTERM to the launcher: the first becomes a SIGUSR1 to mpirun, which forwards it to
 * every rank (they agree on a step, checkpoint, and stop: src/train/stop_signals.ts); a second
 * is passed on as SIGTERM (mpirun then kills the ranks). release() removes the handlers and
 * returns the first signal received, if any (the launcher then exits 128 + its number).
 */
function forwardStopSignals(child: ChildProcess): { release(): NodeJS.Signals | null } {
  let first: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (first === null) {
      first = signal;
      process.stderr.write(`peft-ts: ${signal}: asking the ranks to write a checkpoint after the current step, then stop (send it again to stop at once)\n`);
      child.kill("SIGUSR1");
    } else {
      process.stderr.write(`peft-ts: ${signal} again: stopping the ranks now, without a new checkpoint\n`);
      child.kill("SIGTERM");
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    release() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
      return first;
    },
  };
}
