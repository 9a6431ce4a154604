/**
 * Gradual pruning inside training (oBERT's recipe, ../shared/docs/obert.md §2; SparseML's `OBSPruningModifier`,
 * `GMPruningModifier` and `ConstantPruningModifier` as the published recipes use them):
 *
 * - each pruning modifier prunes at epochs start, start + update_frequency, ..., end (schedule.ts), to the cubic (or
 *   linear) interpolation from `init_sparsity` to `final_sparsity`; the epoch e of a pruning step becomes the optimizer
 *   step `round(e * stepsPerEpoch)`, run before that step's batch (times that land on one step run once, to the later
 *   target);
 * - `obs`: oBERT (prune_step.ts) with `num_grads` gradients of `grad_sampler_kwargs.batch_size` rows, collected with
 *   the model in evaluation mode, masked; `gmp`: global or per-layer magnitude;
 * - masks only shrink, and stay on the `Linear`s after the last pruning step, so the training step keeps applying them
 *   to gradients and weights (fixed masks while the model recovers);
 * - `ConstantPruningModifier` fixes the zeros its params have at its start (sparse transfer of a pruned model);
 * - the recipe's `LearningRateFunctionModifier`s (lr_functions.ts) give the learning rate where they apply.
 *
 * The state to checkpoint is the masks (masks.ts: `collectMasks`, `restoreMasks`); the schedule is a function of the step.
 */
import type { Linear } from '../model/layers/linear.js';
import type { TrainableModel } from '../train/step.js';
import type { GradBatches } from './gradients.js';
import type { PruningKernels } from './kernels.js';
import { countPruned, currentMask } from './masks.js';
import { pruneStep, type PruneProgress, type PruneReport } from './prune_step.js';
import type { LearningRateFunction, PruningModifier, Recipe } from './recipe.js';
import { recipeLearningRate } from './lr_functions.js';
import { pruningSteps, sparsityAt } from './schedule.js';
import { selectTargets } from './targets.js';

/** The part of a recipe gradual pruning reads. */
export type PruningRecipe = Pick<Recipe, 'pruning' | 'constantPruning' | 'learningRates'> & Partial<Pick<Recipe, 'timeUnit'>>;

/** One scheduled pruning step. */
export interface ScheduledPruning {
  /** Optimizer steps done when it runs (it runs before step `step + 1`). */
  step: number;
  /** Recipe epoch it was scheduled at. */
  epoch: number;
  /** Index into the recipe's pruning modifiers. */
  modifier: number;
  /** Target sparsity over the modifier's params. */
  sparsity: number;
}

/** What a pruning step reports (one line of the run's log). */
export interface GradualPruningEvent extends ScheduledPruning {
  method: 'obert' | 'gmp';
  achieved: number;
  report: PruneReport;
}

interface Model extends TrainableModel { linears(): Linear[] }

/** Options of {@link GradualPruner}. */
export interface GradualPrunerOptions {
  recipe: PruningRecipe;
  /** Optimizer steps per epoch of the run (converts the recipe's epochs into steps; > 0). */
  stepsPerEpoch: number;
  /** Optimizer steps of the whole run: pruning steps at or after it never run (a warning names them). */
  totalSteps: number;
  /**
   * The Fisher's batches for an oBERT step: `batchSize` rows each (`grad_sampler_kwargs.batch_size`, default 16),
   * with labels, enough for `count` gradients; called once per pruning step (repeated collections of one step read it
   * again from its start).
   */
  gradBatches?: (batchSize: number, count: number, at: ScheduledPruning) => GradBatches;
  kernels?: PruningKernels;
  maxMemoryBytes?: number;
  onProgress?: (p: PruneProgress, at: ScheduledPruning) => void;
}

export class GradualPruner {
  /** Every pruning step of the run, in order. */
  readonly schedule: ScheduledPruning[];
  /** Notes for the user (partial fused selections, pruning steps beyond the run). */
  readonly warnings: string[] = [];
  private readonly targets: Linear[][];
  private readonly constant: Array<{ step: number; targets: Linear[] }>;
  private readonly lrFns: readonly LearningRateFunction[];
  /** Optimizer steps per recipe time unit (steps per epoch, or 1 for a recipe in 'ba'). */
  private readonly unitSteps: number;
  /** sparsity() until the next pruning step (masks change only there, or by a restore before the first call). */
  private cachedSparsity: number | null = null;

  constructor(private readonly model: Model, private readonly o: GradualPrunerOptions) {
    if (!(o.stepsPerEpoch > 0)) throw new Error(`gradual pruning: stepsPerEpoch must be > 0, got ${o.stepsPerEpoch}`);
    // A recipe in 'ba' counts optimizer steps directly.
    this.unitSteps = o.recipe.timeUnit === 'ba' ? 1 : o.stepsPerEpoch;
    const linears = model.linears();
    const select = (params: readonly string[], what: string) => {
      try {
        const s = selectTargets(linears, params);
        this.warnings.push(...s.warnings);
        return s.linears;
      } catch (e) { throw new Error(`${what}: ${(e as Error).message}`); }
    };
    const toStep = (e: number) => Math.round(e * this.unitSteps);
    this.targets = o.recipe.pruning.map((m, i) => select(m.params, `pruning modifier ${i}`));
    this.schedule = [];
    o.recipe.pruning.forEach((m, i) => {
      const sched = { ...m, start: m.startEpoch, end: m.endEpoch };
      for (const epoch of pruningSteps(sched)) {
        const step = toStep(epoch);
        if (step >= o.totalSteps) {
          const at = o.recipe.timeUnit === 'ba' ? `step ${step}` : `epoch ${epoch} (step ${step})`;
          this.warnings.push(`pruning modifier ${i}: the step at ${at} is beyond the run's ` +
            `${o.totalSteps} steps and will not run; final sparsity ${sparsityAt(sched, epoch).toFixed(3)} is not reached`);
          continue;
        }
        // Two pruning times of one modifier on the same optimizer step (update_frequency below a step, or end within
        // rounding of the last regular step): one pruning step, to the later (higher) target.
        const prev = this.schedule[this.schedule.length - 1];
        if (prev && prev.modifier === i && prev.step === step) this.schedule.pop();
        this.schedule.push({ step, epoch, modifier: i, sparsity: sparsityAt(sched, epoch) });
      }
    });
    this.schedule.sort((a, b) => a.step - b.step || a.modifier - b.modifier);
    this.constant = o.recipe.constantPruning.map((c, i) => ({ step: toStep(c.startEpoch), targets: select(c.params, `constant pruning modifier ${i}`) }));
    this.lrFns = o.recipe.learningRates;
  }

  /** The recipe's learning rate before step `step + 1` (steps done: `step`), or null where no LR modifier applies. */
  learningRate(step: number): number | null {
    return recipeLearningRate(this.lrFns, step / this.unitSteps);
  }

  /**
   * Runs what is due before optimizer step `step + 1`: constant masks that start now, then the pruning steps
   * scheduled at `step`, in recipe order.
   * @returns the pruning steps run (empty when none is due).
   */
  beforeStep(step: number): GradualPruningEvent[] {
    if (this.constant.some((c) => c.step === step) || this.schedule.some((at) => at.step === step)) this.cachedSparsity = null;
    for (const c of this.constant) {
      if (c.step !== step) continue;
      for (const l of c.targets) {
        const m = currentMask(l);
        for (let i = 0; i < m.length; i++) if (l.weight[i] === 0) m[i] = 0;
        l.mask = m;
        l.applyMask();
      }
    }
    const out: GradualPruningEvent[] = [];
    for (const at of this.schedule) {
      if (at.step !== step) continue;
      out.push(this.prune(at));
    }
    return out;
  }

  private prune(at: ScheduledPruning): GradualPruningEvent {
    const m: PruningModifier = this.o.recipe.pruning[at.modifier];
    const targets = this.targets[at.modifier];
    const obert = m.kind === 'obs';
    let gradBatches: GradBatches | undefined;
    if (obert) {
      if (!this.o.gradBatches) throw new Error(`pruning modifier ${at.modifier}: OBS pruning needs gradient batches`);
      gradBatches = this.o.gradBatches(m.gradBatchSize ?? 16, m.numGrads!, at);
    }
    const report = pruneStep(this.model, targets, {
      method: obert ? 'obert' : 'gmp', sparsity: at.sparsity, maskType: m.maskType, globalSparsity: m.globalSparsity,
      blockSize: m.fisherBlockSize ?? undefined, numGrads: m.numGrads ?? undefined, dampening: m.damp ?? undefined,
      numRecomputations: m.numRecomputations, gradBatches, kernels: this.o.kernels, maxMemoryBytes: this.o.maxMemoryBytes,
      onProgress: this.o.onProgress && ((p) => this.o.onProgress!(p, at)),
    });
    return { ...at, method: report.method, achieved: report.achievedSparsity, report };
  }

  /** Fraction of zeros over every weight any modifier prunes or fixes (0 before the first pruning step). */
  sparsity(): number {
    if (this.cachedSparsity !== null) return this.cachedSparsity;
    const all = new Set([...this.targets.flat(), ...this.constant.flatMap((c) => c.targets)]);
    let z = 0, n = 0;
    for (const l of all) { n += l.weight.length; z += l.mask ? countPruned(l.mask) : 0; }
    return (this.cachedSparsity = n ? z / n : 0);
  }
}
