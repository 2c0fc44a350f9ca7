// A counter of the element buffers the library allocates for tensors (allocF32Uninit / allocStorage):
// how many, how many elements in all, and the largest. Tests read it to check that a code path keeps
// its memory linear in the sequence length or allocates nothing per decoding step.

export interface AllocStats {
  /** Buffers allocated since the last reset. */
  count: number;
  /** Their elements, summed. */
  elements: number;
  /** The largest one's elements. */
  largest: number;
}

export const allocStats: AllocStats = { count: 0, elements: 0, largest: 0 };

export function resetAllocStats(): void {
  allocStats.count = 0;
  allocStats.elements = 0;
  allocStats.largest = 0;
}

export function noteAlloc(n: number): void {
  allocStats.count++;
  allocStats.elements += n;
  if (n > allocStats.largest) allocStats.largest = n;
}
