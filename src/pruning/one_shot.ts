/**
 * One-shot pruning: select the target weights (targets.ts; by default every encoder projection), then one pruning
 * step (prune_step.ts) to the requested sparsity: `gmp` (global magnitude) or `obert` (OBS with the block Fisher
 * from `numGrads` gradients of the model's own loss, in evaluation mode, masked). The masks are set on the
 * `Linear`s (`Linear.mask`) and applied, so a following training step keeps them (train/step.ts), and the pruned
 * weights are exact zeros for `savePretrained`.
 */
import type { Linear } from '../model/layers/linear.js';
import type { TrainableModel } from '../train/step.js';
import { pruneStep, type PruneReport, type PruneStepOptions } from './prune_step.js';
import { DEFAULT_PRUNE_PARAMS_BERT, DEFAULT_PRUNE_PARAMS_MOSAICBERT, selectTargets } from './targets.js';

/** The pruning step's options (prune_step.ts) plus which weights to prune. */
export interface OneShotOptions extends PruneStepOptions {
  /** `params` entries (exact names or `re:` patterns; classic-BERT names map onto MosaicBERT's). Default: the encoder's projections. */
  params?: readonly string[];
}

export interface OneShotResult extends PruneReport {
  /** Notes from the target selection. */
  warnings: string[];
}

/** The default `params` of a model type. */
export function defaultPruneParams(modelType: 'mosaicbert' | 'bert'): readonly string[] {
  return modelType === 'bert' ? DEFAULT_PRUNE_PARAMS_BERT : DEFAULT_PRUNE_PARAMS_MOSAICBERT;
}

/**
 * Prunes `model` in place (weights and `Linear.mask`).
 * @throws Error for a bad option (naming it), a `params` entry that matches nothing, block4 on a layer whose
 *   input dimension is not a multiple of 4, a Fisher that cannot fit in `maxMemoryBytes` (with the formula), or
 *   gradient batches that run out.
 */
export function oneShotPrune(model: TrainableModel & { linears(): Linear[]; modelType: 'mosaicbert' | 'bert' },
  o: OneShotOptions): OneShotResult {
  const { linears, warnings } = selectTargets(model.linears(), o.params ?? defaultPruneParams(model.modelType));
  const report = pruneStep(model, linears, o);
  return { ...report, warnings };
}

/** The JSON written beside a pruned model (`pruning.json`): settings and the achieved sparsity per layer. */
export function pruningJson(r: OneShotResult): Record<string, unknown> {
  return {
    method: r.method, mask_type: r.maskType, block_size: r.blockSize, num_grads: r.numGrads, damp: r.dampening,
    target_sparsity: r.targetSparsity, achieved_sparsity: r.achievedSparsity, pruned: r.pruned, numel: r.numel,
    gradient_passes: r.gradientPasses, fisher_bytes: r.fisherBytes, groups: r.groups, seconds: Number(r.seconds.toFixed(3)),
    layers: r.layers.map((l) => ({ name: `${l.name}.weight`, shape: l.shape, sparsity: l.sparsity, pruned: l.pruned })),
  };
}
