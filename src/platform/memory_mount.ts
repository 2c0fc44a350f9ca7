// Filling a MemoryFiles from the browser's sources: same-origin URLs (fetch) and File/Blob objects
// (a drop zone, an <input type=file webkitdirectory>). Async, because those sources are; once the
// bytes are in memory the library reads them synchronously like files on disk.

import { ConfigError } from "../tensor/errors.js";
import type { MemoryFiles } from "./memory_files.js";
import { join } from "./paths.js";

export interface MountUrlOptions {
  /** Names whose fetch answers 404 are left out instead of failing (optional files such as tokenizer_config.json). */
  optional?: string[];
  /** fetch to use (default globalThis.fetch). */
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;
}

/**
 * Fetches `names` (relative to `baseUrl`, e.g. "models/llama-mini-en/") into `dir` of `files`;
 * returns the paths written. A failed fetch is a ConfigError naming the URL and the status.
 */
export async function mountUrl(files: MemoryFiles, dir: string, baseUrl: string, names: string[], opts: MountUrlOptions = {}): Promise<string[]> {
  const get = opts.fetch ?? ((u: string) => globalThis.fetch(u));
  const base = baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
  const out: string[] = [];
  await Promise.all(names.map(async (name) => {
    const url = new URL(name, new URL(base, globalThis.location?.href ?? "http://localhost/")).href;
    let res;
    try {
      res = await get(url);
    } catch (e) {
      throw new ConfigError(`mountUrl: fetching ${url} failed: ${(e as Error).message}`);
    }
    if (!res.ok) {
      if (res.status === 404 && opts.optional?.includes(name)) return;
      throw new ConfigError(`mountUrl: ${url} answered HTTP ${res.status}; expected the file '${name}'`);
    }
    const path = join(dir, name);
    files.writeFile(path, new Uint8Array(await res.arrayBuffer()));
    out.push(path);
  }));
  return out.sort();
}

/** A File of a dropped folder has webkitRelativePath ("model/config.json"); a plain Blob has neither. */
type NamedBlob = Blob & { name?: string; webkitRelativePath?: string };

/**
 * Copies File/Blob objects into `dir`, keeping each File's relative path within a dropped or chosen
 * folder (webkitRelativePath) or else its name; returns the paths written.
 */
export async function mountBlobs(files: MemoryFiles, dir: string, blobs: Iterable<NamedBlob> | ArrayLike<NamedBlob>): Promise<string[]> {
  const list = Array.from(blobs as ArrayLike<NamedBlob>);
  const out: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    const rel = b.webkitRelativePath || b.name || `blob-${i}`;
    if (rel.split("/").includes("..")) throw new ConfigError(`mountBlobs: '${rel}' climbs out of the folder; expected a relative path inside it`);
    const path = join(dir, rel);
    files.writeFile(path, new Uint8Array(await b.arrayBuffer()));
    out.push(path);
  }
  return out;
}
