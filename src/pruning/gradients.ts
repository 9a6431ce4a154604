/**
 * Gradient collection for the empirical Fisher (oBERT, ../shared/docs/obert.md §1.3): `num_grads` mini-batch
 * gradients of the model's own task loss (MLM with labels, or classification), with the model in evaluation mode
 * (dropout off), each multiplied by the current mask before use. The batches come from `gradBatches`, read again
 * from its start at every collection (an array, any re-iterable, or a function returning a fresh iterable), so
 * repeated collections of one pruning step see the same gradients.
 */
import type { LabelledBatch, TrainableModel } from '../train/step.js';
import type { ParamStore } from '../model/params.js';

/** Where gradient batches come from. */
export type GradBatches = Iterable<LabelledBatch> | (() => Iterable<LabelledBatch>);

/**
 * Runs forward + backward (evaluation mode, loss scale 1) on batches until `count` of them had targets; calls
 * `onGradient(G, i)` with the fresh gradient of each (valid until the next call).
 * @throws Error when the batches run out first, or when a batch has no label array.
 */
export function collectGradients(model: TrainableModel, batches: GradBatches, count: number,
  onGradient: (G: ParamStore, i: number) => void): void {
  const it = (typeof batches === 'function' ? batches() : batches)[Symbol.iterator]();
  let done = 0, seen = 0;
  while (done < count) {
    const nx = it.next();
    if (nx.done) throw new Error(`gradient batches ran out: ${done} of ${count} gradients collected from ${seen} batches`);
    const b = nx.value;
    seen++;
    if (!b.labels) throw new Error(`gradient batch ${seen - 1} has no labels (the Fisher needs the task loss)`);
    const G = model.zeroGrad();
    const out = model.forward(b, { training: false, seed: 0, step: 0 });
    if ((out.numTargets ?? b.batch) === 0) continue;
    model.backward(1);
    onGradient(G, done);
    done++;
  }
}
