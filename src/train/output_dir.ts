// The check that output_dir can be written, made before training starts: a read-only folder or
// file system, a file in the way or a full disk is refused at once, with the reason, instead of
// failing at the first checkpoint after minutes of training.

import { getFiles } from "../platform/files.js";
import { processId } from "../platform/env.js";
import { dirname, join, resolve } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";
import { ioReason } from "./trainer_errors.js";

/**
 * Creates output_dir if needed and writes (then removes) a probe file in it; ConfigError with the reason otherwise.
 * The folders it had to create are removed again, so a run refused later (bad data, a failed load) leaves nothing
 * behind; the Trainer creates them for real with its first file.
 */
export function checkOutputWritable(outputDir: string): void {
  const dir = resolve(outputDir);
  const refuse = (what: string, e: unknown): never => {
    throw new ConfigError(`output_dir '${dir}': ${what}: ${ioReason(e)}; choose a writable folder (checkpoints, logs and metrics go there)`);
  };
  if (getFiles().exists(dir) && !getFiles().stat(dir).isDirectory) {
    throw new ConfigError(`output_dir '${dir}' is a file, not a folder; choose a writable folder (checkpoints, logs and metrics go there)`);
  }
  // one level at a time: a recursive mkdir reports ENOENT on a read-only file system, this the real reason
  const missing: string[] = [];
  for (let d = dir; !getFiles().exists(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  try {
    for (const d of missing) getFiles().mkdir(d, { recursive: false });
  } catch (e) {
    refuse("cannot create the folder", e);
  }
  const probe = join(dir, `.peft-ts-write-probe-${processId()}`);
  try {
    getFiles().writeFile(probe, "probe\n");
  } catch (e) {
    refuse("cannot write in the folder", e);
  } finally {
    getFiles().rm(probe, { force: true });
    for (const d of [...missing].reverse()) {
      try {
        getFiles().rmdir(d);
      } catch {
        break; // no longer empty (another process wrote there): keep it
      }
    }
  }
}
