// Seeded, structure-aware mutations for the fuzz campaign: a small PRNG, byte-level and
// text-level mutations, and JSON-tree mutations (delete/replace/retype values, hostile keys).

/** mulberry32 over a seed mixed from several integers: the same (seed, target, case) gives the same input. */
export class FuzzRng {
  private s: number;
  constructor(...parts: number[]) {
    let h = 0x9e3779b9;
    for (const p of parts) h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) ^ (h >>> 13);
    this.s = h >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export const INTERESTING_NUMBERS = [
  0, 1, -1, 2, 3, 7, 8, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 31), 1e308, -1e308, 1e-308, 0.5, -0.5, 1e9, 1e15, 123456789, 3.7,
];

/** Values a JSON field is replaced with: wrong types, boundary numbers, hostile objects. */
export function interestingJson(r: FuzzRng): unknown {
  switch (r.int(12)) {
    case 0: return null;
    case 1: return r.pick(INTERESTING_NUMBERS);
    case 2: return "";
    case 3: return r.pick(["a", "NaN", "Infinity", "-1", "../../etc/passwd", "/tmp/x", "\u0000", "__proto__", "x".repeat(10_000)]);
    case 4: return [];
    case 5: return {};
    case 6: return r.chance(0.5);
    case 7: return { __proto__polluted: true, polluted: 1 };
    case 8: return [r.pick(INTERESTING_NUMBERS), "x", null];
    case 9: return JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}');
    case 10: return { prototype: { polluted: 1 } };
    default: return r.pick(INTERESTING_NUMBERS) * (r.chance(0.5) ? 1 : -1);
  }
}

type Path = (string | number)[];

function collectPaths(v: unknown, path: Path, out: Path[], depth: number): void {
  out.push(path);
  if (depth > 12 || v === null || typeof v !== "object") return;
  if (Array.isArray(v)) {
    // arrays can be long (vocabularies, merges): sample a few elements
    const n = v.length;
    const idx = n <= 6 ? [...Array(n).keys()] : [0, 1, n - 1, Math.floor(n / 2)];
    for (const i of idx) collectPaths(v[i], [...path, i], out, depth + 1);
    return;
  }
  const keys = Object.keys(v);
  const sample = keys.length <= 24 ? keys : [...keys.slice(0, 12), ...keys.slice(-4), keys[Math.floor(keys.length / 2)]];
  for (const k of sample) collectPaths((v as Record<string, unknown>)[k], [...path, k], out, depth + 1);
}

function getAt(root: unknown, path: Path): unknown {
  let v = root as Record<string | number, unknown>;
  for (const p of path) v = v[p] as Record<string | number, unknown>;
  return v;
}

/** One structural mutation of a JSON tree, in place (the root may be replaced: the new root is returned). */
export function mutateJsonTree(root: unknown, r: FuzzRng): unknown {
  const paths: Path[] = [];
  collectPaths(root, [], paths, 0);
  const path = r.pick(paths);
  if (path.length === 0 && r.chance(0.3)) return interestingJson(r);
  const parent = path.length ? getAt(root, path.slice(0, -1)) : null;
  const key = path.length ? path[path.length - 1] : null;
  const target = getAt(root, path);
  const op = r.int(8);
  if (op === 0 && parent && key !== null) {
    // delete
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, unknown>)[key as string];
  } else if (op === 1 && target && typeof target === "object" && !Array.isArray(target)) {
    // add a hostile or random key
    const k = r.pick(["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "x", ""]);
    Object.defineProperty(target, k, { value: interestingJson(r), enumerable: true, writable: true, configurable: true });
  } else if (op === 2 && Array.isArray(target)) {
    if (r.chance(0.5)) target.push(interestingJson(r));
    else if (target.length) target.push(target[r.int(target.length)]);
  } else if (op === 3 && typeof target === "number" && parent && key !== null) {
    const v = r.pick([target + 1, target - 1, -target, target * 2, target * 1e6, target + 0.5, 0, 2 ** 32]);
    (parent as Record<string | number, unknown>)[key] = v;
  } else if (op === 4 && typeof target === "string" && parent && key !== null) {
    const v = r.pick([target + "x", target.slice(1), target.toUpperCase(), "", "\uFFFF" + target, target + target]);
    (parent as Record<string | number, unknown>)[key] = v;
  } else if (parent && key !== null) {
    Object.defineProperty(parent, key, { value: interestingJson(r), enumerable: true, writable: true, configurable: true });
  }
  return root;
}

/** Serializes a tree, sometimes with text-level damage afterwards (truncation, stray characters, deep nesting). */
export function mutatedJsonText(base: unknown, r: FuzzRng): string {
  let root: unknown = structuredClone(base);
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) root = mutateJsonTree(root, r);
  let text = JSON.stringify(root);
  if (r.chance(0.15)) text = mutateText(text, r);
  if (r.chance(0.02)) text = "[".repeat(100_000) + "]".repeat(100_000);
  return text;
}

/** Text-level damage: truncation, inserted/deleted characters, swapped lines, stray quotes/delimiters. */
export function mutateText(text: string, r: FuzzRng): string {
  const pos = () => r.int(text.length + 1);
  switch (r.int(8)) {
    case 0: return text.slice(0, pos());
    case 1: { const p = pos(); return text.slice(0, p) + r.pick(['"', ",", "\t", "\n", "\r", "{", "}", "[", "]", ":", "\\", "\u0000", "\uD800", " "]) + text.slice(p); }
    case 2: { const p = pos(); return text.slice(0, p) + text.slice(p + 1 + r.int(20)); }
    case 3: {
      const lines = text.split("\n");
      if (lines.length > 1) { const i = r.int(lines.length), j = r.int(lines.length); [lines[i], lines[j]] = [lines[j], lines[i]]; }
      return lines.join("\n");
    }
    case 4: { const p = pos(); return text.slice(0, p) + text.slice(p, p + 200) + text.slice(p); }
    case 5: return text.replace(/\n/g, r.pick(["\r\n", "\r", "\n\n"]));
    case 6: return "\uFEFF" + text;
    default: { const lines = text.split("\n"); lines.splice(r.int(lines.length), 1); return lines.join("\n"); }
  }
}

/** Byte-level damage: bit flips, interesting little-endian integers, truncation, inserted/removed ranges. */
export function mutateBytes(src: Uint8Array, r: FuzzRng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  const n = 1 + r.int(4);
  for (let k = 0; k < n; k++) {
    const p = b.length ? r.int(b.length) : 0;
    switch (r.int(6)) {
      case 0: if (b.length) b[p] ^= 1 << r.int(8); break;
      case 1: if (b.length) b[p] = r.pick([0, 1, 0x7f, 0x80, 0xff, 0x22, 0x7b, 0x7d]); break;
      case 2: {
        const v = BigInt.asUintN(64, BigInt(Math.trunc(r.pick(INTERESTING_NUMBERS))));
        const at = Math.min(p, Math.max(0, b.length - 8));
        if (b.length >= 8) new DataView(b.buffer).setBigUint64(at, v, true);
        break;
      }
      case 3: b = b.slice(0, p); break;
      case 4: { const len = 1 + r.int(64); const ins = new Uint8Array(len).map(() => r.int(256)); b = concatBytes(b.slice(0, p), ins, b.slice(p)); break; }
      default: b = concatBytes(b.slice(0, p), b.slice(Math.min(b.length, p + 1 + r.int(64)))); break;
    }
  }
  return b;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
