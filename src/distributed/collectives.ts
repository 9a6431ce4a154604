/**
 * What data-parallel training needs of a communication layer, and how a global batch is shared among ranks.
 *
 * Every rank builds the same global batch (same order, same MLM masks) and runs only its share of the microbatches:
 * shard k of P takes microbatches `[floor(k M / P), floor((k + 1) M / P))` of the M microbatches, by their global
 * index, so the rows a sample lands in, its masks and its dropout stream (`dropoutBase + m`, m global) do not depend
 * on P. The shards' gradients are then summed in rank order ({@link Collectives.allreduceSum}). A single process
 * emulates the same arithmetic with `TrainingStepOptions.gradientShards` (each shard into its own buffer, then
 * `((g_0 + g_1) + g_2) + ...`), which is why a 2-rank run reproduces it bit for bit.
 */

/** Collective operations over the ranks of one job; every rank calls them in the same order. */
export interface Collectives {
  /** This process's rank in [0, size). */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  /**
   * In place: `g = g_0 + g_1 + ... + g_{P-1}` element-wise, summed left to right in rank order, the same bits on
   * every rank. `g`: float32 of the same length on every rank.
   */
  allreduceSum(g: Float32Array): void;
  /** Element-wise sum over ranks of `v` (float64, the same length on every rank), left to right in rank order. */
  sumF64(v: Float64Array): Float64Array;
  /** `buf` on every rank = `buf` of rank `root`. */
  broadcast(buf: Float32Array, root: number): void;
  barrier(): void;
  /** Seconds spent in the collectives so far (for the log and benchmarks). */
  readonly seconds: number;
}

/**
 * The microbatches of shard `k` of `P` among `M`: the half-open range `[floor(k M / P), floor((k + 1) M / P))`.
 * @throws RangeError when k is not in [0, P) or P < 1.
 */
export function shardRange(M: number, k: number, P: number): [number, number] {
  if (!(Number.isInteger(P) && P >= 1 && Number.isInteger(k) && k >= 0 && k < P)) {
    throw new RangeError(`shard ${k} of ${P}: needs an integer 0 <= shard < shards`);
  }
  return [Math.floor((k * M) / P), Math.floor(((k + 1) * M) / P)];
}
