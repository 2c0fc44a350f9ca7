// POSIX paths, written here so the core needs no node:path: the library's paths are "/"-separated
// in Node (Linux, macOS) and in the browser's memory file system alike. Same results as
// node:path's posix functions for the forms the library uses.

import { cwd } from "./env.js";

export const sep = "/";

/** The segments of `p` with "." and empty ones dropped and ".." applied ("..": kept above a relative start). */
function collapse(p: string, absolute: boolean): string[] {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg !== "..") out.push(seg);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!absolute) out.push("..");
  }
  return out;
}

export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

export function normalize(p: string): string {
  if (p === "") return ".";
  const abs = isAbsolute(p);
  let s = collapse(p, abs).join("/");
  if (s === "" && !abs) s = ".";
  if (s !== "" && p.endsWith("/")) s += "/";
  return abs ? "/" + s : s;
}

export function join(...parts: string[]): string {
  const joined = parts.filter((x) => x.length > 0).join("/");
  return joined === "" ? "." : normalize(joined);
}

/** The absolute path of `parts` taken from right to left, from the working directory when none is absolute. */
export function resolve(...parts: string[]): string {
  let acc = "";
  for (let i = parts.length - 1; i >= 0 && !isAbsolute(acc); i--) {
    if (parts[i].length > 0) acc = acc === "" ? parts[i] : `${parts[i]}/${acc}`;
  }
  if (!isAbsolute(acc)) acc = acc === "" ? cwd() : `${cwd()}/${acc}`;
  return "/" + collapse(acc, true).join("/");
}

export function dirname(p: string): string {
  if (p === "") return ".";
  const rooted = p[0] === "/";
  let end = -1;
  let sawName = false; // a run of trailing slashes is skipped, the slash before the last name ends it
  for (let i = p.length - 1; i >= 1; i--) {
    if (p[i] !== "/") sawName = true;
    else if (sawName) { end = i; break; }
  }
  if (end === -1) return rooted ? "/" : ".";
  return rooted && end === 1 ? "//" : p.slice(0, end);
}

export function basename(p: string): string {
  let end = p.length;
  while (end > 0 && p[end - 1] === "/") end--;
  return p.slice(p.lastIndexOf("/", end - 1) + 1, end);
}

export function extname(p: string): string {
  const base = basename(p);
  const dot = base.lastIndexOf(".");
  return dot <= 0 || base === ".." ? "" : base.slice(dot);
}

/** The path from `from` to `to` ("" when they are the same). */
export function relative(from: string, to: string): string {
  const a = collapse(resolve(from), true);
  const b = collapse(resolve(to), true);
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return [...a.slice(k).map(() => ".."), ...b.slice(k)].join("/");
}
