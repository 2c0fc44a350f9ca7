// The Node implementation of the files interface (node:fs), registered by src/node.ts: the only
// core file that touches node:fs. writeAtomic keeps the crash-safe protocol: a temporary sibling
// opened exclusively, every byte written, fsync, rename over the target, fsync of the directory.

import {
  appendFileSync, closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync,
  readSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync,
} from "node:fs";
import type { Files, FileStat, ReadHandle } from "./files.js";
import { siblingTempName } from "./files.js";
import { dirname, join, resolve } from "./paths.js";

/** Writes every byte of `data` at the fd's current position (writeSync may write less than asked). */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const chunk = Math.min(data.length - off, 1 << 30);
    off += writeSync(fd, data, off, chunk);
  }
}

/** fsync a directory so a rename/create inside it is durable (not supported everywhere: ignored then). */
function fsyncDir(dir: string): void {
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

function openRead(path: string): ReadHandle {
  const fd = openSync(path, "r");
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: "EISDIR", path });
    size = st.size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    size,
    read: (dst, dstOffset, length, position) => readSync(fd, dst, dstOffset, length, position),
    close: () => closeSync(fd),
  };
}

function writeAtomic(path: string, fill: (out: { write(bytes: Uint8Array): void }) => void): void {
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = siblingTempName(target, "tmp");
  const fd = openSync(tmp, "wx", 0o644);
  let ok = false;
  try {
    fill({ write: (bytes) => writeAll(fd, bytes) });
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

export const nodeFiles: Files = {
  kind: "node",
  readFile: (path) => readFileSync(path),
  readText: (path) => readFileSync(path, "utf8"),
  openRead,
  stat(path): FileStat {
    const st = statSync(path);
    return { size: st.size, isFile: st.isFile(), isDirectory: st.isDirectory(), mtimeMs: st.mtimeMs };
  },
  exists: (path) => existsSync(path),
  readdir: (path) => readdirSync(path),
  mkdir: (path, opts) => void mkdirSync(path, { recursive: opts?.recursive ?? true }),
  writeFile: (path, data) => writeFileSync(path, data),
  appendFile: (path, data) => appendFileSync(path, data),
  writeAtomic,
  rename: (from, to) => renameSync(from, to),
  rm: (path, opts) => rmSync(path, opts),
  rmdir: (path) => rmdirSync(path),
  realpath: (path) => realpathSync(path),
  syncDir: fsyncDir,
  syncTree: fsyncTree,
};
