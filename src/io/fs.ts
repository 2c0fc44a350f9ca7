// Crash-safe file output: a reader never sees a half-written file or checkpoint directory.
// Files are written to a temporary sibling, fsynced, renamed over the target, and the parent
// directory is fsynced so the rename itself survives a crash.

import { getFiles, siblingTempName, type WriteSink } from "../platform/files.js";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "../platform/paths.js";
import { ConfigError, PeftError } from "../tensor/errors.js";

/**
 * Writes a file through a callback that receives the sink of a temporary file in the same
 * directory; then fsyncs, renames over `path` and fsyncs the directory (the files interface's
 * writeAtomic). On any error the temporary file is removed and `path` is left as it was.
 */
export function atomicWriteWith(path: string, write: (out: WriteSink) => void): void {
  getFiles().writeAtomic(path, write);
}

/** Atomically writes `data` (bytes, or a string written as UTF-8) to `path`. Synchronous. */
export function atomicWriteFile(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  atomicWriteWith(path, (out) => out.write(bytes));
}

/**
 * Builds a directory atomically: `fill(tmpDir)` writes into a fresh sibling temp dir, which is
 * then renamed to `finalDir`. An existing `finalDir` is replaced only after the new one is
 * complete (it is moved aside, the new one renamed in, then the old one deleted). If `fill`
 * throws, the temp dir is removed and `finalDir` is untouched. Returns the resolved final path.
 */
export async function atomicWriteDir(finalDir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<string> {
  const fs = getFiles();
  const target = resolve(finalDir);
  const parent = dirname(target);
  fs.mkdir(parent);
  const tmp = siblingTempName(target, "tmp");
  fs.mkdir(tmp);
  try {
    await fill(tmp);
    fs.syncTree(tmp);
  } catch (e) {
    fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  let old: string | null = null;
  if (fs.exists(target)) {
    if (!fs.stat(target).isDirectory) {
      fs.rm(tmp, { recursive: true, force: true });
      throw new PeftError(`atomicWriteDir: '${target}' exists and is not a directory`);
    }
    old = siblingTempName(target, "old");
    fs.rename(target, old);
  }
  try {
    fs.rename(tmp, target);
  } catch (e) {
    if (old) fs.rename(old, target); // put the previous version back
    fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  fs.syncDir(parent);
  if (old) fs.rm(old, { recursive: true, force: true });
  return target;
}

function isInside(root: string, cand: string): boolean {
  const rel = relative(root, cand);
  return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
}

function realpathOrSelf(p: string): string {
  // Resolve symlinks of the longest existing prefix, so a link pointing outside is caught
  // even when the final component does not exist yet.
  let cur = p;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(getFiles().realpath(cur), ...rest);
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return p;
      rest.unshift(basename(cur));
      cur = parent;
    }
  }
}

/**
 * Whether `candidate` (relative paths are taken from `root`) lies inside `root`, both as written
 * and after resolving symlinks: a name read from a file (a checkpoint or adapter folder) that
 * is a symlink pointing elsewhere, or that climbs out with "..", does not.
 */
export function staysInside(root: string, candidate: string): boolean {
  const r = resolve(root);
  const c = resolve(r, candidate);
  return isInside(r, c) && isInside(realpathOrSelf(r), realpathOrSelf(c));
}

/**
 * Returns the absolute path of `candidate` (relative paths are taken from `root`) after checking
 * that it lies inside `root`, also after resolving symlinks. Throws PeftError otherwise.
 */
export function assertInside(root: string, candidate: string, what: string): string {
  const r = resolve(root);
  const c = resolve(r, candidate);
  if (!staysInside(r, c)) {
    throw new PeftError(`${what} '${candidate}' resolves to '${c}', which is outside '${r}'; expected a path inside it`);
  }
  return c;
}

/**
 * Checks that `path` is an existing regular file before a reader opens it, so a wrong path is a
 * ConfigError naming it and `what` it should be, not a bare ENOENT/EISDIR from the fs module.
 */
export function requireReadableFile(path: string, what: string): void {
  let st;
  try {
    st = getFiles().stat(path);
  } catch (e) {
    throw new ConfigError(`${path}: ${what} not found (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile) throw new ConfigError(`${path}: expected ${what} file, found a directory or special file`);
}
