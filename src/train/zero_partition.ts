// ZeRO's partition of the flat trainable-parameter vector (FlatGrads order) over N ranks: the
// vector, padded to a multiple of N, is cut into N contiguous slices of equal length; rank r owns
// [r·S, (r+1)·S). A parameter may straddle slices: each rank optimizes the pieces of parameters
// inside its slice. Stage 2's gradient buckets are column ranges [a, b) of the slices, the same
// range of every rank's slice, so one reduce-scatter of N·(b − a) floats gives each rank its part.

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

/** A stage-2 bucket: columns [a, b) of every slice, and the parameters it needs final. */
export interface ColumnBucket {
  a: number;
  b: number;
  params: number[];
}

/**
 * Column buckets from the end of the slices backwards (the order backward finishes gradients),
 * each at most capFloats in total (N × width); every column is in exactly one bucket.
 */
export function columnBuckets(p: Partition, sizes: readonly number[], offsets: readonly number[], capFloats: number): ColumnBucket[] {
  const width = Math.max(1, Math.floor(capFloats / p.world));
  const out: ColumnBucket[] = [];
  for (let b = p.sliceSize; b > 0; b -= width) {
    const a = Math.max(0, b - width);
    const params = new Set<number>();
    for (let r = 0; r < p.world; r++) {
      const lo = r * p.sliceSize + a, hi = Math.min(r * p.sliceSize + b, p.total);
      if (hi <= lo) continue;
      for (const pc of piecesIn(sizes, offsets, lo, hi)) params.add(pc.param);
    }
    out.push({ a, b, params: [...params].sort((x, y) => x - y) });
  }
  return out;
}
