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
  /**
   * In place: on every rank, `buf[bounds[r], bounds[r + 1])` = that range of rank r's `buf` (copies, no arithmetic).
   * `buf`: float32 of length `bounds[size]` on every rank; `bounds`: `size + 1` offsets from {@link shardBounds}.
   */
  allgather(buf: Float32Array, bounds: Float64Array): void;
  /**
   * Rank r sends `send` (`bounds[r + 1] - bounds[r]` floats); on `root`, `recv[bounds[r], bounds[r + 1])` = rank r's
   * `send`. `recv` (float32, length `bounds[size]`) is used on `root` only (null elsewhere).
   */
  gather(send: Float32Array, recv: Float32Array | null, bounds: Float64Array, root: number): void;
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

/**
 * Contiguous shards of a flat buffer of `n` elements over `P` ranks, each boundary a multiple of `align` elements
 * (except the end, `n`): `bounds[k] = min(n, align * floor(k * ceil(n / align) / P))`, so shards differ by at most
 * `align` elements and shard k is `[bounds[k], bounds[k + 1])` (empty when there are fewer blocks than ranks).
 * ZeRO-1 uses it to split the parameter buffer (src/distributed/zero.ts) with `align` 16 (64 bytes).
 * @returns Float64Array of P + 1 offsets, `bounds[0] = 0`, `bounds[P] = n`.
 * @throws RangeError when n < 0, P < 1 or align < 1 is not an integer.
 */
export function shardBounds(n: number, P: number, align = 16): Float64Array {
  for (const [name, v, min] of [['n', n, 0], ['P', P, 1], ['align', align, 1]] as const) {
    if (!(Number.isInteger(v) && v >= min)) throw new RangeError(`shardBounds: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const blocks = Math.ceil(n / align);
  const b = new Float64Array(P + 1);
  for (let k = 0; k <= P; k++) b[k] = Math.min(n, align * Math.floor((k * blocks) / P));
  return b;
}
