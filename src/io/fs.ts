// Crash-safe file output: a reader never sees a half-written file or checkpoint directory.
// Files are written to a temporary sibling, fsynced, renamed over the target, and the parent
// directory is fsynced so the rename itself survives a crash.

import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, realpathSync, renameSync,
  rmSync, statSync, unlinkSync, writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { ConfigError, PeftError } from "../tensor/errors.js";

function tmpName(target: string, kind: string): string {
  return join(dirname(target), `.${basename(target)}.${kind}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** fsync a directory so a rename/create inside it is durable (not supported everywhere: ignored then). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms/filesystems cannot open or fsync directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes every byte of `data` at the fd's current position (writeSync may write less than asked). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const chunk = Math.min(data.length - off, 1 << 30);
    off += writeSync(fd, data, off, chunk);
  }
}

/**
 * Writes a file through a callback that receives an open fd of a temporary file in the same
 * directory; then fsyncs, renames over `path` and fsyncs the directory. On any error the
 * temporary file is removed and `path` is left as it was.
 */
export function atomicWriteWith(path: string, write: (fd: number) => void): void {
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tmpName(target, "tmp");
  const fd = openSync(tmp, "wx", 0o644);
  let ok = false;
  try {
    write(fd);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) {
      try { unlinkSync(tmp); } catch { /* already gone */ }
    }
  }
  try {
    renameSync(tmp, target);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  fsyncDir(dirname(target));
}

/** Atomically writes `data` (bytes, or a string written as UTF-8) to `path`. Synchronous. */
export function atomicWriteFile(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  atomicWriteWith(path, (fd) => writeAllSync(fd, bytes));
}

function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) fsyncTree(p);
    else if (st.isFile()) {
      const fd = openSync(p, "r");
      try { fsyncSync(fd); } finally { closeSync(fd); }
    }
  }
  fsyncDir(dir);
}

/**
 * Builds a directory atomically: `fill(tmpDir)` writes into a fresh sibling temp dir, which is
 * then renamed to `finalDir`. An existing `finalDir` is replaced only after the new one is
 * complete (it is moved aside, the new one renamed in, then the old one deleted). If `fill`
 * throws, the temp dir is removed and `finalDir` is untouched. Returns the resolved final path.
 */
export async function atomicWriteDir(finalDir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<string> {
  const target = resolve(finalDir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const tmp = tmpName(target, "tmp");
  mkdirSync(tmp);
  try {
    await fill(tmp);
    fsyncTree(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let old: string | null = null;
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) {
      rmSync(tmp, { recursive: true, force: true });
      throw new PeftError(`atomicWriteDir: '${target}' exists and is not a directory`);
    }
    old = tmpName(target, "old");
    renameSync(target, old);
  }
  try {
    renameSync(tmp, target);
  } catch (e) {
    if (old) renameSync(old, target); // put the previous version back
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  if (old) rmSync(old, { recursive: true, force: true });
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
      return join(realpathSync(cur), ...rest);
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
    st = statSync(path);
  } catch (e) {
    throw new ConfigError(`${path}: ${what} not found (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new ConfigError(`${path}: expected ${what} file, found a directory or special file`);
}
