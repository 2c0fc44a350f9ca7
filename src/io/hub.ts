// Where a model lives: a local folder, or a Hugging Face model id resolved offline in the
// local HF cache (the layout huggingface_hub writes):
//   <cache>/models--<org>--<name>/refs/<revision>        → a commit hash
//   <cache>/models--<org>--<name>/snapshots/<hash>/...   → the files
// No network access is ever attempted.

import { getFiles } from "../platform/files.js";
import { envVars, hostInfo } from "../platform/env.js";
import { join, resolve } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";

export interface ResolveOptions {
  /** Branch/tag name in refs/, or a commit hash in snapshots/ (default "main"). */
  revision?: string;
  /** The hub cache folder (the one holding models--* folders). */
  cacheDir?: string;
}

function isDir(p: string): boolean {
  try {
    return getFiles().stat(p).isDirectory;
  } catch {
    return false;
  }
}

/** Cache folders to search, in huggingface_hub's order of precedence. */
export function hubCacheDirs(cacheDir?: string): string[] {
  if (cacheDir) return [resolve(cacheDir)];
  const env = envVars();
  const dirs: string[] = [];
  if (env.HF_HUB_CACHE) dirs.push(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) dirs.push(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) dirs.push(join(env.HF_HOME, "hub"));
  const xdg = env.XDG_CACHE_HOME;
  if (xdg) dirs.push(join(xdg, "huggingface", "hub"));
  const home = hostInfo().homeDir();
  if (home !== null) dirs.push(join(home, ".cache", "huggingface", "hub"));
  return [...new Set(dirs.map((d) => resolve(d)))];
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;

/**
 * A local directory is returned as is (absolute); an HF id ("org/name" or "name") is looked up
 * offline in the HF cache. Throws ConfigError naming the id and every place searched.
 */
export function resolveModelDir(idOrPath: string, opts: ResolveOptions = {}): string {
  if (typeof idOrPath !== "string" || idOrPath === "") throw new ConfigError("resolveModelDir: expected a folder path or a model id, got an empty value");
  const local = resolve(idOrPath);
  if (isDir(local)) return local;
  const searched: string[] = [local];
  const looksLikePath = idOrPath.startsWith(".") || idOrPath.startsWith("/") || idOrPath.startsWith("~") || idOrPath.includes("\\");
  if (!looksLikePath && REPO_ID.test(idOrPath) && !idOrPath.includes("..")) {
    const revision = opts.revision ?? "main";
    const folder = "models--" + idOrPath.split("/").join("--");
    for (const cache of hubCacheDirs(opts.cacheDir)) {
      const repo = join(cache, folder);
      const refFile = join(repo, "refs", revision);
      let commit: string | null = null;
      if (getFiles().exists(refFile) && !isDir(refFile)) {
        commit = getFiles().readText(refFile).trim();
        if (!COMMIT.test(commit) && (!/^[0-9A-Za-z._-]+$/.test(commit) || /^\.+$/.test(commit))) {
          throw new ConfigError(`${refFile}: expected a commit hash, found ${JSON.stringify(commit.slice(0, 60))}`);
        }
      } else if (COMMIT.test(revision)) {
        commit = revision; // a commit hash given directly
      }
      if (commit) {
        const snap = join(repo, "snapshots", commit);
        if (isDir(snap)) return snap;
        searched.push(snap);
      } else {
        searched.push(refFile);
      }
    }
  }
  throw new ConfigError(
    `model '${idOrPath}' not found${opts.revision ? ` at revision '${opts.revision}'` : ""}: it is not a local folder and not in the Hugging Face cache ` +
      `(offline only; searched: ${searched.join(", ")}). Pass a folder, or set HF_HUB_CACHE / HF_HOME to the cache that holds it.`,
  );
}

/** The path of `name` in `dir`; throws ConfigError naming the file, what it is for and the folder. */
export function requireFile(dir: string, name: string, what: string): string {
  const p = join(dir, name);
  if (!getFiles().exists(p) || isDir(p)) {
    throw new ConfigError(`${what}: '${name}' not found in ${dir}`);
  }
  return p;
}

/** The path of `name` in `dir` if it exists as a file, else null. */
export function optionalFile(dir: string, name: string): string | null {
  const p = join(dir, name);
  return getFiles().exists(p) && !isDir(p) ? p : null;
}
