// The timing loop of every benchmark (Node and browser bundles alike: no Node import here): the median
// wall time of `reps` calls of fn, in ms.
export function medianCallMs(fn: () => void, reps: number): number {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}
