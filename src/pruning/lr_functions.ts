/**
 * The learning-rate functions of SparseML's `LearningRateFunctionModifier`, as the oBERT recipes use them
 * (../shared/docs/obert.md §2.2, "LR rewinding"): over `[start_epoch, end_epoch)`, with x the position in [0, 1),
 *
 *   linear:        init + (final - init) * x,                       x = (e - start) / (end - start)
 *   cyclic_linear: init + (final - init) * x,                       x = ((e - start) mod cycle_epochs) / cycle_epochs
 *   cosine:        final + (init - final) * (1 + cos(pi * x)) / 2
 *   exponential:   init * (final / init)^x                          (geometric interpolation)
 *
 * `cyclic_linear` restarts at `init_lr` every `cycle_epochs`, which the recipes align with the pruning steps so the
 * learning rate is back at its peak right after each pruning step. Where no modifier covers an epoch, the last value
 * set stays (the `final_lr` of the latest modifier that ended); before the first, none applies.
 */
import type { LearningRateFunction } from './recipe.js';

/** The learning rate of one modifier at epoch `e` inside its range. */
export function lrFunctionAt(f: LearningRateFunction, e: number): number {
  const span = f.endEpoch - f.startEpoch;
  const x = f.lrFunc === 'cyclic_linear'
    ? ((e - f.startEpoch) % f.cycleEpochs!) / f.cycleEpochs!
    : span > 0 ? Math.min(1, Math.max(0, (e - f.startEpoch) / span)) : 1;
  switch (f.lrFunc) {
    case 'linear':
    case 'cyclic_linear': return f.initLr + (f.finalLr - f.initLr) * x;
    case 'cosine': return f.finalLr + (f.initLr - f.finalLr) * (1 + Math.cos(Math.PI * x)) / 2;
    case 'exponential': return f.initLr * (f.finalLr / f.initLr) ** x;
  }
}

/**
 * The recipe's learning rate at epoch `e`: the last modifier (in recipe order) whose `[start, end)` holds e; else the
 * `final_lr` of the modifier that ended latest before e; null before every modifier (the run's own schedule applies).
 */
export function recipeLearningRate(fns: readonly LearningRateFunction[], e: number): number | null {
  let covering: LearningRateFunction | null = null, ended: LearningRateFunction | null = null;
  for (const f of fns) {
    if (e >= f.startEpoch && e < f.endEpoch) covering = f;
    else if (e >= f.endEpoch && (!ended || f.endEpoch >= ended.endEpoch)) ended = f;
  }
  if (covering) return lrFunctionAt(covering, e);
  return ended ? ended.finalLr : null;
}

/** The largest `init_lr` of the recipe's functions (the optimizer's reference learning rate), null without any. */
export function recipePeakLr(fns: readonly LearningRateFunction[]): number | null {
  return fns.length ? Math.max(...fns.map((f) => f.initLr)) : null;
}
