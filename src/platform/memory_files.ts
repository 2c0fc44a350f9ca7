// An in-memory file system: path → bytes, with explicit directories (every parent of a file is
// one). The browser entry registers it; Node tests use it too. Paths are resolved against "/" in a
// browser (cwd() of env.ts). Fill it with memory_mount.ts (fetch, dropped Files), keep it across
// reloads with memory_persist.ts (OPFS / IndexedDB).

import type { Files, FileStat, ReadHandle, WriteSink } from "./files.js";
import { asBytes, fileError } from "./files.js";
import { dirname, resolve } from "./paths.js";

interface Entry {
  data: Uint8Array;
  mtimeMs: number;
}

const enoent = (syscall: string, path: string) => fileError("ENOENT", "no such file or directory", syscall, path);

export class MemoryFiles implements Files {
  readonly kind = "memory";
  private readonly entries = new Map<string, Entry>();
  private readonly dirs = new Map<string, number>([["/", Date.now()]]);

  /** Every file below `dir` (absolute paths, sorted): what persistToOpfs writes. */
  list(dir = "/"): string[] {
    const root = resolve(dir);
    const prefix = root === "/" ? "/" : root + "/";
    return [...this.entries.keys()].filter((p) => p.startsWith(prefix)).sort();
  }

  /** Bytes and directories in use (tests, a page's storage figure). */
  usage(): { files: number; bytes: number; dirs: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.data.length;
    return { files: this.entries.size, bytes, dirs: this.dirs.size };
  }

  private file(path: string, syscall: string): Entry {
    const p = resolve(path);
    const e = this.entries.get(p);
    if (e) return e;
    throw this.dirs.has(p) ? fileError("EISDIR", "illegal operation on a directory", syscall, path) : enoent(syscall, path);
  }

  private ensureParents(p: string): void {
    for (let d = dirname(p); !this.dirs.has(d); d = dirname(d)) {
      if (this.entries.has(d)) throw fileError("ENOTDIR", "not a directory", "mkdir", d);
      this.dirs.set(d, Date.now());
    }
  }

  private put(path: string, data: Uint8Array, syscall: string): void {
    const p = resolve(path);
    if (this.dirs.has(p)) throw fileError("EISDIR", "illegal operation on a directory", syscall, path);
    this.ensureParents(p);
    this.entries.set(p, { data, mtimeMs: Date.now() });
  }

  readFile(path: string): Uint8Array {
    return this.file(path, "open").data;
  }

  readText(path: string): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.readFile(path));
  }

  openRead(path: string): ReadHandle {
    const data = this.file(path, "open").data;
    return {
      size: data.length,
      read(dst, dstOffset, length, position) {
        const n = Math.max(0, Math.min(length, data.length - position));
        dst.set(data.subarray(position, position + n), dstOffset);
        return n;
      },
      close() {},
    };
  }

  stat(path: string): FileStat {
    const p = resolve(path);
    const e = this.entries.get(p);
    if (e) return { size: e.data.length, isFile: true, isDirectory: false, mtimeMs: e.mtimeMs };
    const d = this.dirs.get(p);
    if (d !== undefined) return { size: 0, isFile: false, isDirectory: true, mtimeMs: d };
    throw enoent("stat", path);
  }

  exists(path: string): boolean {
    const p = resolve(path);
    return this.entries.has(p) || this.dirs.has(p);
  }

  readdir(path: string): string[] {
    const p = resolve(path);
    if (!this.dirs.has(p)) throw this.entries.has(p) ? fileError("ENOTDIR", "not a directory", "scandir", path) : enoent("scandir", path);
    const prefix = p === "/" ? "/" : p + "/";
    const names = new Set<string>();
    for (const k of [...this.entries.keys(), ...this.dirs.keys()]) {
      if (k.length > prefix.length && k.startsWith(prefix)) names.add(k.slice(prefix.length).split("/")[0]);
    }
    return [...names];
  }

  mkdir(path: string, opts: { recursive?: boolean } = {}): void {
    const p = resolve(path);
    if (this.entries.has(p)) throw fileError("EEXIST", "file already exists", "mkdir", path);
    if (this.dirs.has(p)) {
      if (opts.recursive === false) throw fileError("EEXIST", "file already exists", "mkdir", path);
      return;
    }
    if (opts.recursive === false && !this.dirs.has(dirname(p))) throw enoent("mkdir", path);
    this.ensureParents(p);
    this.dirs.set(p, Date.now());
  }

  writeFile(path: string, data: Uint8Array | string): void {
    this.put(path, asBytes(data).slice(), "open");
  }

  appendFile(path: string, data: Uint8Array | string): void {
    const old = this.entries.get(resolve(path))?.data;
    const add = asBytes(data);
    if (!old) return this.put(path, add.slice(), "open");
    const out = new Uint8Array(old.length + add.length);
    out.set(old);
    out.set(add, old.length);
    this.put(path, out, "open");
  }

  writeAtomic(path: string, fill: (out: WriteSink) => void): void {
    const chunks: Uint8Array[] = [];
    fill({ write: (bytes) => void chunks.push(bytes.slice()) });
    const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    this.put(path, out, "open");
  }

  rename(from: string, to: string): void {
    const a = resolve(from), b = resolve(to);
    if (a === b) return;
    const e = this.entries.get(a);
    if (e) {
      this.put(b, e.data, "rename");
      this.entries.delete(a);
      return;
    }
    if (!this.dirs.has(a)) throw enoent("rename", from);
    if (this.entries.has(b)) throw fileError("ENOTDIR", "not a directory", "rename", to);
    if (this.dirs.has(b) && this.readdir(b).length > 0) throw fileError("ENOTEMPTY", "directory not empty", "rename", to);
    if ((b + "/").startsWith(a + "/")) throw fileError("EINVAL", "invalid argument", "rename", to);
    this.ensureParents(b);
    const move = <V>(m: Map<string, V>) => {
      for (const [k, v] of [...m]) {
        if (k === a || k.startsWith(a + "/")) {
          m.delete(k);
          m.set(b + k.slice(a.length), v);
        }
      }
    };
    move(this.entries);
    move(this.dirs);
  }

  rm(path: string, opts: { recursive?: boolean; force?: boolean } = {}): void {
    const p = resolve(path);
    if (this.entries.delete(p)) return;
    if (!this.dirs.has(p)) {
      if (opts.force) return;
      throw enoent("rm", path);
    }
    if (!opts.recursive) throw Object.assign(new Error(`Path is a directory: rm returned EISDIR (is a directory) ${path}`), { code: "ERR_FS_EISDIR" });
    for (const m of [this.entries, this.dirs] as Map<string, unknown>[]) {
      for (const k of [...m.keys()]) if (k === p || k.startsWith(p + "/")) m.delete(k);
    }
    if (p === "/") this.dirs.set("/", Date.now());
  }

  rmdir(path: string): void {
    const p = resolve(path);
    if (!this.dirs.has(p)) throw this.entries.has(p) ? fileError("ENOTDIR", "not a directory", "rmdir", path) : enoent("rmdir", path);
    if (this.readdir(p).length > 0) throw fileError("ENOTEMPTY", "directory not empty", "rmdir", path);
    if (p !== "/") this.dirs.delete(p);
  }

  realpath(path: string): string {
    const p = resolve(path);
    if (!this.exists(p)) throw enoent("realpath", path);
    return p;
  }

  syncDir(): void {}

  syncTree(): void {}
}
