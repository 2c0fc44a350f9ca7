// The file system the library reads and writes through: a small synchronous interface, so the
// readers, savers and the Trainer keep their synchronous code in Node and in a browser alike.
// Node registers node_files.ts (node:fs, src/node.ts); the browser entry registers an in-memory
// one (memory_files.ts) that async helpers fill from fetch/File and persist to OPFS/IndexedDB.
// Errors carry Node's `code` ("ENOENT", "EISDIR", …) in both, so callers test one thing.

import { basename, dirname, join } from "./paths.js";
import { processId, randomHex } from "./env.js";
import { ConfigError } from "../tensor/errors.js";

export interface FileStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  mtimeMs: number;
}

/** An open file for reads at any position (safetensors tensors, JSONL rows, chunked line reading). */
export interface ReadHandle {
  readonly size: number;
  /** Copies up to `length` bytes at file `position` into dst[dstOffset…]; returns how many (0 at the end). */
  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number;
  close(): void;
}

/** Where writeAtomic's callback puts the file's bytes, in order. */
export interface WriteSink {
  write(bytes: Uint8Array): void;
}

export interface Files {
  /** "node" or "memory" (error messages, tests). */
  readonly kind: string;
  readFile(path: string): Uint8Array;
  /** The file as UTF-8 text (a byte-order mark is kept, as Node's readFileSync(path, "utf8") does). */
  readText(path: string): string;
  openRead(path: string): ReadHandle;
  /** Throws an error with code ENOENT when nothing is at `path`. */
  stat(path: string): FileStat;
  exists(path: string): boolean;
  /** Names in a directory (any order). */
  readdir(path: string): string[];
  /** mkdir -p; `recursive: false`: one level, the parent must exist (the real error of a read-only parent). */
  mkdir(path: string, opts?: { recursive?: boolean }): void;
  /** A plain write (the parent must exist). */
  writeFile(path: string, data: Uint8Array | string): void;
  appendFile(path: string, data: Uint8Array | string): void;
  /**
   * Crash-safe write: `fill` writes into a temporary sibling, which is made durable and renamed over
   * `path` (parents created); on an error the temporary file is removed and `path` is untouched.
   */
  writeAtomic(path: string, fill: (out: WriteSink) => void): void;
  rename(from: string, to: string): void;
  /** Removes a file, or a directory with `recursive`; `force`: no error when nothing is there. */
  rm(path: string, opts?: { recursive?: boolean; force?: boolean }): void;
  /** Removes an empty directory. */
  rmdir(path: string): void;
  /** The path with symbolic links resolved (the memory file system has none: the normalised path). */
  realpath(path: string): string;
  /** Makes a directory's entries durable (fsync; nothing to do in memory). */
  syncDir(path: string): void;
  /** Makes every file and directory below `dir` durable before it is renamed into place. */
  syncTree(dir: string): void;
}

let current: Files | null = null;

/** The registered file system; the Node entry (src/node.ts) and the browser entry each register one. */
export function getFiles(): Files {
  if (!current) {
    throw new ConfigError(
      "peft-ts: no file system registered: in Node import 'peft-ts' (or src/node.ts), in a browser 'peft-ts/browser'; or call setFiles()",
    );
  }
  return current;
}

/** Replaces the file system (returns the previous one, e.g. to put it back after a test). */
export function setFiles(files: Files): Files | null {
  const prev = current;
  current = files;
  return prev;
}

/** A hidden sibling name for a temporary file or directory: `.<name>.<kind>-<pid>-<8 hex>`. */
export function siblingTempName(target: string, kind: string): string {
  return join(dirname(target), `.${basename(target)}.${kind}-${processId()}-${randomHex(4)}`);
}

/** An Error with Node's `code` and message form ("ENOENT: no such file or directory, open '/x'"). */
export function fileError(code: string, what: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${what}, ${syscall} '${path}'`), { code, syscall, path });
}

/** The UTF-8 bytes of a string argument. */
export function asBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}
