// Keeping a MemoryFiles folder across page reloads: the Origin Private File System
// (navigator.storage.getDirectory()) where the browser has it, else IndexedDB (one record per
// file, keyed by its path). persist mirrors the folder (what is gone in memory is gone there too).

import type { MemoryFiles } from "./memory_files.js";
import { join, resolve } from "./paths.js";

/* The parts of the OPFS and IndexedDB APIs used here (the DOM lib is not in this project's tsconfig). */
interface DirHandle {
  kind: "directory";
  name: string;
  getDirectoryHandle(name: string, o?: { create?: boolean }): Promise<DirHandle>;
  getFileHandle(name: string, o?: { create?: boolean }): Promise<FileHandle>;
  removeEntry(name: string, o?: { recursive?: boolean }): Promise<void>;
  values(): AsyncIterable<DirHandle | FileHandle>;
}
interface FileHandle {
  kind: "file";
  name: string;
  getFile(): Promise<Blob>;
  createWritable(): Promise<{ write(data: Uint8Array): Promise<void>; close(): Promise<void> }>;
}
interface Req<T> { result: T; error: unknown; onsuccess: (() => void) | null; onerror: (() => void) | null }
interface Store {
  put(value: Uint8Array, key: string): Req<unknown>;
  delete(range: unknown): Req<unknown>;
  getAll(range: unknown): Req<Uint8Array[]>;
  getAllKeys(range: unknown): Req<string[]>;
}
interface Db {
  transaction(store: string, mode: "readonly" | "readwrite"): { objectStore(n: string): Store; oncomplete: (() => void) | null; onerror: (() => void) | null };
  objectStoreNames: { contains(n: string): boolean };
  createObjectStore(n: string): void;
}

export type PersistTarget = "opfs" | "indexeddb";

const segments = (dir: string) => resolve(dir).split("/").filter((s) => s.length > 0);

async function opfsRoot(): Promise<DirHandle | null> {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<DirHandle> } } }).navigator?.storage;
  if (!storage?.getDirectory) return null;
  try {
    return await storage.getDirectory();
  } catch {
    return null; // e.g. a private window without OPFS
  }
}

async function opfsDir(root: DirHandle, segs: string[], create: boolean): Promise<DirHandle | null> {
  let d = root;
  for (const s of segs) {
    try {
      d = await d.getDirectoryHandle(s, { create });
    } catch {
      return null;
    }
  }
  return d;
}

async function readOpfsTree(d: DirHandle, path: string, files: MemoryFiles, out: string[]): Promise<void> {
  for await (const h of d.values()) {
    const p = join(path, h.name);
    if (h.kind === "directory") await readOpfsTree(h, p, files, out);
    else {
      files.writeFile(p, new Uint8Array(await (await h.getFile()).arrayBuffer()));
      out.push(p);
    }
  }
}

function idbOpen(): Promise<Db> {
  const idb = (globalThis as { indexedDB?: { open(n: string, v: number): Req<Db> & { onupgradeneeded: (() => void) | null } } }).indexedDB;
  if (!idb) return Promise.reject(new Error("persistToOpfs: this environment has neither OPFS nor IndexedDB"));
  return new Promise((ok, fail) => {
    const r = idb.open("peft-ts-files", 1);
    r.onupgradeneeded = () => {
      if (!r.result.objectStoreNames.contains("files")) r.result.createObjectStore("files");
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}

function done<T>(r: Req<T>): Promise<T> {
  return new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}

function keyRange(dir: string): unknown {
  const lo = resolve(dir) === "/" ? "/" : resolve(dir) + "/";
  return (globalThis as unknown as { IDBKeyRange: { bound(a: string, b: string): unknown } }).IDBKeyRange.bound(lo, lo + "\uffff");
}

/**
 * Writes every file below `dir` of `files` to OPFS (or IndexedDB when OPFS is missing), replacing
 * what an earlier call stored for `dir`; returns where it went.
 */
export async function persistToOpfs(files: MemoryFiles, dir: string): Promise<PersistTarget> {
  const segs = segments(dir);
  const root = await opfsRoot();
  if (root) {
    if (segs.length > 0) {
      const parent = await opfsDir(root, segs.slice(0, -1), true);
      await parent!.removeEntry(segs[segs.length - 1], { recursive: true }).catch(() => undefined);
    }
    for (const p of files.list(dir)) {
      const parts = p.split("/").filter((s) => s.length > 0);
      const d = await opfsDir(root, parts.slice(0, -1), true);
      const w = await (await d!.getFileHandle(parts[parts.length - 1], { create: true })).createWritable();
      await w.write(files.readFile(p));
      await w.close();
    }
    return "opfs";
  }
  const db = await idbOpen();
  const tx = db.transaction("files", "readwrite");
  const store = tx.objectStore("files");
  await done(store.delete(keyRange(dir)));
  for (const p of files.list(dir)) store.put(files.readFile(p), p);
  await new Promise<void>((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = () => fail(new Error("persistToOpfs: the IndexedDB transaction failed"));
  });
  return "indexeddb";
}

/** Reads back what persistToOpfs stored for `dir` into `files`; returns the paths restored ([] when nothing was stored). */
export async function restoreFromOpfs(files: MemoryFiles, dir: string): Promise<string[]> {
  const out: string[] = [];
  const root = await opfsRoot();
  if (root) {
    const d = await opfsDir(root, segments(dir), false);
    if (d) await readOpfsTree(d, resolve(dir), files, out);
    return out.sort();
  }
  const db = await idbOpen();
  const store = db.transaction("files", "readonly").objectStore("files");
  const [keys, values] = await Promise.all([done(store.getAllKeys(keyRange(dir))), done(store.getAll(keyRange(dir)))]);
  keys.forEach((k, i) => files.writeFile(k, values[i]));
  return keys.sort();
}
