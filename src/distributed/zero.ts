/**
 * ZeRO stage 1, optimizer-state partitioning (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
 * Trillion Parameter Models", SC 2020, section 5.1, P_os): in a data-parallel run each of the P ranks keeps the AdamW
 * moments (exp_avg, exp_avg_sq: 8 bytes per parameter) of one contiguous shard of the flat parameter buffer only,
 * so the moments take 8 n / P bytes per rank instead of 8 n.
 *
 * One step of {@link ShardedAdamW}, after TrainingStep has summed the gradient over the ranks (the full-gradient
 * all-reduce of src/distributed/collectives.ts, unchanged: every rank holds the whole summed gradient, so the norm,
 * the NaN check, clipping and the pruning masks are computed exactly as without ZeRO):
 *   1. rank r runs the DecoupledAdamW kernel on its shard `[bounds[r], bounds[r + 1])` of the weights, gradient and
 *      its own moments, with the same float64 scalars as the unsharded optimizer (`adamwStepScalars`);
 *   2. an all-gather of the weight shards gives every rank the whole updated weights.
 * The kernel is element-wise, so each weight gets the same float32 operations as in DecoupledAdamW over the whole
 * buffer: a ZeRO-1 run equals the unsharded run of the same ranks bit for bit (tested under mpirun). A reduce-scatter
 * in place of the all-reduce would move half the gradient bytes, but the global norm would then be a sum of
 * per-shard sums, rounded differently from one process; we keep the all-reduce for bit-identity.
 *
 * Shards are cut by {@link shardBounds} at multiples of 16 floats (64 bytes). Checkpoints keep the unsharded format:
 * before a save every rank calls {@link ShardedAdamW.gatherForCheckpoint}, which gathers the moments to rank 0
 * (`expAvg` / `expAvgSq` there until the next step), and `loadCheckpoint` writes the full moments into the
 * `expAvg` / `expAvgSq` of a fresh optimizer, whose `t` setter then keeps this rank's shard and frees the rest.
 * So a ZeRO-1 run resumes from its own or from an unsharded checkpoint of the same ranks, and the other way round.
 */
import type { Kernels } from '../kernels/types.js';
import type { ParamStore } from '../model/params.js';
import { adamwHyperparameters, adamwStepScalars, DecoupledAdamW, type DecoupledAdamWOptions } from '../train/decoupled_adamw.js';
import { shardBounds, type Collectives } from './collectives.js';

/** ZeRO stage: 0 (every rank holds the whole optimizer state) or 1 (optimizer state sharded). */
export type ZeroStage = 0 | 1;

/** Shard boundaries are multiples of this many floats (64 bytes: a cache line, whole AVX2 vectors). */
export const ZERO_ALIGN = 16;

/**
 * Parses a ZeRO stage given on the command line or in options (`--zero <stage>`, `zeroStage`).
 * @throws Error naming `flag` when it is not 0 or 1 (stages 2 and 3 are not implemented).
 */
export function parseZeroStage(v: string | number | undefined, flag = '--zero'): ZeroStage {
  if (v === undefined) return 0;
  const s = String(v).trim();
  if (s === '0' || s === '1') return Number(s) as ZeroStage;
  throw new Error(`${flag}: expected 0 or 1 (ZeRO stage 1 shards the AdamW moments; stages 2 and 3 are not implemented), got '${v}'`);
}

/** Bytes of AdamW moments (exp_avg + exp_avg_sq, float32) each rank holds for `n` parameters on `P` ranks. */
export function momentBytesPerRank(n: number, P: number, stage: ZeroStage = 1): number[] {
  if (stage === 0 || P === 1) return Array.from({ length: P }, () => 8 * n);
  const b = shardBounds(n, P, ZERO_ALIGN);
  return Array.from({ length: P }, (_, r) => 8 * (b[r + 1] - b[r]));
}

/**
 * Composer's DecoupledAdamW (src/train/decoupled_adamw.ts) with the moments sharded over the ranks (see the top).
 * It has DecoupledAdamW's interface (`step(grads, lrT)`, `t`, `expAvg`, `expAvgSq`, `gatherForCheckpoint`), so
 * TrainingStep, saveCheckpoint and loadCheckpoint take it unchanged. Every rank must call `step` and
 * `gatherForCheckpoint` in the same order (they are collectives).
 */
export class ShardedAdamW {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Shard boundaries: rank r owns `[bounds[r], bounds[r + 1])` of the flat parameter buffer (P + 1 offsets). */
  readonly bounds: Float64Array;
  /** This rank's shard of the flat buffer: `[lo, hi)`. */
  readonly lo: number;
  readonly hi: number;
  /** This rank's moments, `hi - lo` floats each. */
  readonly shardExpAvg: Float32Array;
  readonly shardExpAvgSq: Float32Array;
  private tSteps = 0;
  /** No step taken and no checkpoint loaded: the moments are the initial zeros (a load may fill them). */
  private pristine = true;
  /** Full-size moments: gathered for a save on rank 0, or being filled by a checkpoint load. */
  private full: { expAvg: ParamStore; expAvgSq: ParamStore; kind: 'gathered' | 'load' } | null = null;
  /** Optimizer step t of the last gather (a second save at the same t does not gather again). */
  private gatheredAt = -1;

  /**
   * @param params the model's flat parameters (every rank the same layout and, after the initial broadcast, bits).
   * @param opts DecoupledAdamW's options (same defaults and checks).
   * @param collectives the job's ranks (MPI); `size` 1 works but saves nothing.
   * @throws Error naming `optimizer.lr` / `optimizer.betas` when out of range.
   */
  constructor(readonly params: ParamStore, opts: DecoupledAdamWOptions, readonly k: Kernels, readonly collectives: Collectives) {
    ({ lr: this.lr, betas: this.betas, eps: this.eps, weightDecay: this.weightDecay } = adamwHyperparameters(opts));
    this.bounds = shardBounds(params.data.length, collectives.size, ZERO_ALIGN);
    this.lo = this.bounds[collectives.rank];
    this.hi = this.bounds[collectives.rank + 1];
    this.shardExpAvg = new Float32Array(this.hi - this.lo);
    this.shardExpAvgSq = new Float32Array(this.hi - this.lo);
  }

  /** Steps taken. Setting it (as loadCheckpoint does after writing `expAvg` / `expAvgSq`) keeps this rank's shard of the loaded moments. */
  get t(): number { return this.tSteps; }
  set t(v: number) {
    this.tSteps = v;
    if (this.full?.kind === 'load') {
      this.shardExpAvg.set(this.full.expAvg.data.subarray(this.lo, this.hi));
      this.shardExpAvgSq.set(this.full.expAvgSq.data.subarray(this.lo, this.hi));
      this.full = null;
      this.pristine = false;
    }
  }

  /** Bytes of moments this rank holds (8 per parameter of its shard). */
  get momentBytes(): number { return 8 * (this.hi - this.lo); }

  /**
   * The full exp_avg: on rank 0 after {@link gatherForCheckpoint} (until the next step); before the first step and
   * any load, a zero-filled full-size buffer for `loadCheckpoint` to fill (then `t` is set and this rank keeps its
   * shard).
   * @throws Error otherwise (the other ranks never hold the full moments).
   */
  get expAvg(): ParamStore { return this.fullMoments().expAvg; }
  /** The full exp_avg_sq; see {@link expAvg}. */
  get expAvgSq(): ParamStore { return this.fullMoments().expAvgSq; }

  private fullMoments(): { expAvg: ParamStore; expAvgSq: ParamStore } {
    if (this.full) return this.full;
    if (this.pristine) {
      this.full = { expAvg: this.params.zerosLike(), expAvgSq: this.params.zerosLike(), kind: 'load' };
      return this.full;
    }
    throw new Error(`ShardedAdamW (ZeRO-1, rank ${this.collectives.rank} of ${this.collectives.size}): the full AdamW ` +
      'moments exist only on rank 0 after gatherForCheckpoint(), which every rank must call before a save');
  }

  /**
   * One DecoupledAdamW step on this rank's shard, then the all-gather of the weights (see the top); every rank
   * calls it with the same (summed) `grads` and `lrT`.
   * @param grads the summed gradient, the layout of `params` (float32, the whole buffer).
   * @param lrT the schedule's learning rate for this step.
   */
  step(grads: ParamStore, lrT: number = this.lr): void {
    this.full = null;
    this.tSteps += 1;
    this.pristine = false;
    const [b1, b2] = this.betas;
    const { decayFactor, stepSize, bc2 } = adamwStepScalars(this, this.tSteps, lrT);
    const { lo, hi } = this;
    this.k.adamwStep(this.params.data.subarray(lo, hi), grads.data.subarray(lo, hi), this.shardExpAvg, this.shardExpAvgSq,
      hi - lo, b1, b2, this.eps, this.weightDecay, decayFactor, stepSize, bc2);
    this.collectives.allgather(this.params.data, this.bounds);
  }

  /**
   * Every rank calls it before a checkpoint save (a collective): gathers the moment shards to rank 0, whose
   * `expAvg` / `expAvgSq` then hold the full moments (8 bytes per parameter, freed at the next step) for
   * saveCheckpoint. A second call at the same step `t` returns at once on every rank (a trainer may ask twice).
   */
  gatherForCheckpoint(): void {
    if (this.gatheredAt === this.tSteps) return;
    const c = this.collectives;
    const full = c.rank === 0 ? { expAvg: this.params.zerosLike(), expAvgSq: this.params.zerosLike(), kind: 'gathered' as const } : null;
    c.gather(this.shardExpAvg, full?.expAvg.data ?? null, this.bounds, 0);
    c.gather(this.shardExpAvgSq, full?.expAvgSq.data ?? null, this.bounds, 0);
    this.full = full;
    this.gatheredAt = this.tSteps;
  }
}

/** Options of {@link createAdamW}. */
export interface CreateAdamWOptions {
  /** 0 (default): DecoupledAdamW; 1: {@link ShardedAdamW} when there are several ranks. */
  zeroStage?: ZeroStage;
  /** The job's ranks; null or absent: one process. */
  collectives?: Collectives | null;
  /**
   * Where the memory line and the single-process warning go (default: stderr, rank 0 only). The line reads
   * `ZeRO-1: AdamW moments sharded over P ranks: <max> bytes per rank (<MB>), <total> unsharded (8 bytes/parameter)`.
   */
  report?: (message: string) => void;
}

/**
 * The trainers' optimizer: DecoupledAdamW, or with `zeroStage: 1` and more than one rank a {@link ShardedAdamW}
 * (typed as DecoupledAdamW, whose interface it has), reporting the moment bytes per rank. ZeRO-1 in a single
 * process (no collectives, or one rank) is a no-op with a warning: the one process keeps all the moments.
 * @throws Error naming `zeroStage` when it is not 0 or 1.
 */
export function createAdamW(params: ParamStore, opts: DecoupledAdamWOptions, k: Kernels, o: CreateAdamWOptions = {}): DecoupledAdamW {
  const stage = parseZeroStage(o.zeroStage, 'zeroStage');
  const c = o.collectives ?? null;
  const report = o.report ?? ((m: string) => { if (!c || c.rank === 0) console.error(m); });
  if (stage === 0) return new DecoupledAdamW(params, opts, k);
  const n = params.data.length;
  if (!c || c.size === 1) {
    report(`warning: ZeRO-1 (--zero 1) has no effect in a single process: it keeps all the AdamW moments ` +
      `(${formatBytes(8 * n)}); launch with 'mpirun -np N' (N > 1) to shard them`);
    return new DecoupledAdamW(params, opts, k);
  }
  const opt = new ShardedAdamW(params, opts, k, c);
  const per = momentBytesPerRank(n, c.size);
  report(`ZeRO-1: AdamW moments sharded over ${c.size} ranks: ${Math.max(...per)} bytes per rank at most ` +
    `(${formatBytes(Math.max(...per))}; rank 0 ${per[0]}), ${8 * n} bytes unsharded (${formatBytes(8 * n)}, 8 bytes/parameter)`);
  return opt;
}

function formatBytes(b: number): string {
  return b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`;
}
