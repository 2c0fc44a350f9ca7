// Prototype-pollution checks: the built-in prototypes must not change, and no object a reader
// returns may inherit a "polluted" key from a prototype that came out of the input.

/** Own keys (and one probe) of the built-in prototypes, as one string to compare. */
export function pollutionSnapshot(): string {
  const probe = ({} as Record<string, unknown>).polluted;
  return [
    Object.getOwnPropertyNames(Object.prototype).sort().join(","),
    Object.getOwnPropertyNames(Array.prototype).sort().join(","),
    Object.getOwnPropertyNames(Function.prototype).sort().join(","),
    `probe=${String(probe)}`,
  ].join("|");
}

/** A path to an object (within a bounded walk) that inherits `polluted` or `prototype` data from a non-built-in prototype, or null. */
export function findInheritedPollution(v: unknown, path = "result", depth = 0, seen = new Set<object>()): string | null {
  if (v === null || typeof v !== "object" || depth > 8 || seen.has(v)) return null;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return null;
  const obj = v as Record<string, unknown>;
  if ("polluted" in obj && !Object.hasOwn(obj, "polluted")) return `${path} inherits 'polluted' from its prototype`;
  const entries: [string, unknown][] = v instanceof Map ? [...v.entries()].slice(0, 200).map(([k, x]) => [String(k), x]) : Object.entries(obj).slice(0, 200);
  for (const [k, x] of entries) {
    const hit = findInheritedPollution(x, `${path}.${k}`, depth + 1, seen);
    if (hit) return hit;
  }
  return null;
}
