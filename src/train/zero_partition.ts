// ZeRO's partition of the flat trainable-parameter vector (FlatGrads order) over N ranks: the
// vector, padded to a multiple of N, is cut into N contiguous slices of equal length; rank r owns
// [r·S, (r+1)·S). A parameter may straddle slices: each rank optimizes the pieces of parameters
// inside its slice. Stage 2's gradient buckets are contiguous ranges of the vector; each rank
// receives the part of a range inside its slice (zero_grads.ts).

/** The slices of a vector of `total` floats over `world` ranks. */
export interface Partition {
  total: number;
  world: number;
  /** Floats per slice (the padded length / world). */
  sliceSize: number;
  /** sliceSize × world ≥ total. */
  padded: number;
}

export function zeroPartition(total: number, world: number): Partition {
  if (!(Number.isInteger(world) && world >= 1)) throw new RangeError(`zeroPartition: world size ${world}`);
  const sliceSize = Math.ceil(total / world);
  return { total, world, sliceSize, padded: sliceSize * world };
}

/** Rank r's slice of the unpadded vector: [start, end) (end ≤ total; may be empty for the last ranks). */
export function sliceRange(p: Partition, rank: number): { start: number; end: number } {
  const start = Math.min(rank * p.sliceSize, p.total);
  return { start, end: Math.min(start + p.sliceSize, p.total) };
}

/** The part of one parameter inside a slice. */
export interface Piece {
  /** Index into FlatGrads.params. */
  param: number;
  /** The range inside the parameter's elements, [lo, hi). */
  lo: number;
  hi: number;
  /** Where lo sits in the flat vector. */
  flat: number;
}

/** The pieces of the parameters (sizes/offsets in FlatGrads order) that fall inside [start, end). */
export function piecesIn(sizes: readonly number[], offsets: readonly number[], start: number, end: number): Piece[] {
  const out: Piece[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const a = Math.max(offsets[i], start), b = Math.min(offsets[i] + sizes[i], end);
    if (b > a) out.push({ param: i, lo: a - offsets[i], hi: b - offsets[i], flat: a });
  }
  return out;
}
