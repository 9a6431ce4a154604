/**
 * One pruning step of oBERT or GMP over a set of `Linear` weights (Kurtic et al. 2022, §3; the step written out in
 * ../shared/docs/obert.md §1.4), for any number of recomputations R (`num_recomputations`):
 *
 *   for r = 1..R: s_r = s_prev + (s - s_prev)·r/R
 *     obert: Finv = block-diagonal (lambda I + (1/m) sum g g^T)^-1 from m fresh gradients (masked, eval mode)
 *            scores: w^2 / (2 Finv_jj + eps) or 0.5 w_Q^T (Finv_QQ)^-1 w_Q; gmp: w^2 or sum_Q w^2
 *     already pruned -> -inf; exactly round(s_r·N) units pruned, global or per layer (select.ts)
 *     obert: w -= Finv z over all newly pruned (OBS update, sum of single updates); then w[pruned] = 0 exactly
 *     masks: new = keep AND old (masks only shrink); Linear.mask = new; Linear.applyMask()
 *
 * The Fisher inverse is discarded after each step (a fresh one each time). When it does not fit in the memory
 * limit the weights are processed in groups (memory.ts): scores per group, then, after the global threshold, a
 * second collection per group for the update; weight updates are buffered until every group's gradients are taken,
 * so each group's Fisher is that of the same weights.
 */
import type { Linear } from '../model/layers/linear.js';
import type { TrainableModel } from '../train/step.js';
import { collectGradients, type GradBatches } from './gradients.js';
import { pruningKernels, type PruningKernels } from './kernels.js';
import { checkMaskType, countPruned, currentMask, expandGroups, unitSize, type MaskType } from './masks.js';
import { defaultMaxMemoryBytes, fisherInverseBytes, planFisherGroups, stagingRows, type Segment } from './memory.js';
import { magnitudeScores } from './scores.js';
import { selectKeep } from './select.js';

export type PruneMethod = 'gmp' | 'obert';

export interface PruneStepOptions {
  method: PruneMethod;
  /** Target sparsity in [0, 1] over all targets (global) or of each target (per layer). */
  sparsity: number;
  /** Default 'unstructured'. */
  maskType?: MaskType;
  /** Fisher block size B (obert). Default 50 (the paper's unstructured setting; 32 in its block4 recipes). */
  blockSize?: number;
  /** Gradients per Fisher (obert), m. Default 1024 (the recipes). */
  numGrads?: number;
  /** Damping lambda (obert). Default 1e-7 (the recipes). */
  dampening?: number;
  /** One threshold over all targets (default true, the recipes' global_sparsity) or one per target. */
  globalSparsity?: boolean;
  /** Fresh Fisher estimates within the step (default 1). */
  numRecomputations?: number;
  /** Batches for the gradients (obert). */
  gradBatches?: GradBatches;
  /** Memory limit of the Fisher inverse and staging, bytes (default half the machine's memory). */
  maxMemoryBytes?: number;
  /** Process the weights in groups when the whole does not fit (default true); false refuses instead. */
  allowGroups?: boolean;
  kernels?: PruningKernels;
  onProgress?: (p: PruneProgress) => void;
}

/** Progress over gradient collection. */
export interface PruneProgress {
  /** Gradients collected in this collection, of `total`. */
  done: number;
  total: number;
  /** Index of this collection and how many the step runs. */
  collection: number;
  collections: number;
}

export interface LayerReport {
  name: string;
  shape: [number, number];
  numel: number;
  pruned: number;
  sparsity: number;
}

export interface PruneReport {
  method: PruneMethod;
  maskType: MaskType;
  blockSize: number | null;
  numGrads: number | null;
  dampening: number | null;
  targetSparsity: number;
  /** Pruned fraction of all target weights after the step. */
  achievedSparsity: number;
  pruned: number;
  numel: number;
  layers: LayerReport[];
  /** Bytes of the whole Fisher inverse (d·B·4) and of the largest group processed at once. */
  fisherBytes: number | null;
  peakFisherBytes: number | null;
  groups: number;
  /** Forward/backward passes run for gradients. */
  gradientPasses: number;
  seconds: number;
}

interface Model extends TrainableModel { linears(): Linear[] }

/** Runs one pruning step on `targets` (Linears of `model`); see the module comment. */
export function pruneStep(model: Model, targets: Linear[], o: PruneStepOptions): PruneReport {
  const t0 = performance.now();
  const k = o.kernels ?? pruningKernels();
  const maskType = o.maskType ?? 'unstructured', unit = unitSize(maskType);
  const B = o.blockSize ?? 50, m = o.numGrads ?? 1024, lambda = o.dampening ?? 1e-7;
  const R = o.numRecomputations ?? 1, global = o.globalSparsity ?? true;
  if (!(o.sparsity >= 0 && o.sparsity <= 1)) throw new Error(`sparsity must be in [0, 1], got ${o.sparsity}`);
  if (!(Number.isInteger(R) && R >= 1)) throw new Error(`numRecomputations must be an integer >= 1, got ${R}`);
  if (targets.length === 0) throw new Error('nothing to prune: no target weights');
  for (const l of targets) checkMaskType(l, maskType);
  const obert = o.method === 'obert';
  if (obert) {
    if (!(Number.isInteger(B) && B >= 1)) throw new Error(`block size must be an integer >= 1, got ${B}`);
    if (maskType === 'block4' && B % 4 !== 0) throw new Error(`block size ${B}: mask type block4 needs a multiple of 4`);
    if (!(Number.isInteger(m) && m >= 1)) throw new Error(`numGrads must be an integer >= 1, got ${m}`);
    if (!(lambda > 0)) throw new Error(`dampening must be > 0, got ${lambda}`);
    if (!o.gradBatches) throw new Error('obert needs gradBatches (batches with labels for the Fisher)');
  } else if (o.method !== 'gmp') {
    throw new Error(`method must be 'obert' or 'gmp', got '${o.method as string}'`);
  }
  const sizes = targets.map((l) => l.weight.length);
  const N = sizes.reduce((a, b) => a + b, 0);
  const plan = obert ? planFisherGroups(sizes, B, o.maxMemoryBytes ?? defaultMaxMemoryBytes(), o.allowGroups ?? true) : null;
  const G = plan?.groups.length ?? 0;
  const collections = obert ? R * (G === 1 ? 1 : 2 * G) : 0;
  let collection = 0, passes = 0;

  /** Fresh Fisher inverses of `segments` from m masked gradients. */
  const buildFisher = (segments: Segment[], masks: Uint8Array[]): Float32Array[] => {
    const finvs = segments.map((s) => {
      const F = new Float32Array(fisherInverseBytes(s.end - s.start, B) / 4);
      for (let b = 0, nb = Math.ceil((s.end - s.start) / B); b < nb; b++) for (let i = 0; i < B; i++) F[b * B * B + i * B + i] = 1 / lambda;
      return F;
    });
    const rowsPer = stagingRows(B);
    const staging = segments.map((s) => new Float32Array(rowsPer * (s.end - s.start)));
    let rows = 0;
    const flush = () => {
      segments.forEach((s, i) => k.fisherInverseUpdate(finvs[i], staging[i], rows, s.end - s.start, B, m));
      rows = 0;
    };
    const c = collection++;
    collectGradients(model, o.gradBatches!, m, (Gr, i) => {
      segments.forEach((s, si) => {
        const g = targets[s.target].gradWeight(Gr), mask = masks[s.target], d = s.end - s.start, dst = staging[si];
        for (let j = 0; j < d; j++) dst[rows * d + j] = mask[s.start + j] ? g[s.start + j] : 0;
      });
      rows++;
      passes++;
      if (rows === rowsPer) flush();
      o.onProgress?.({ done: i + 1, total: m, collection: c, collections });
    });
    if (rows > 0) flush();
    return finvs;
  };

  for (let r = 1; r <= R; r++) {
    const masks = targets.map(currentMask);
    const prunedNow = masks.reduce((a, mk) => a + countPruned(mk), 0);
    const sPrev = prunedNow / N;
    const s = r === R ? o.sparsity : sPrev + (o.sparsity - sPrev) * r / R;
    const scores = targets.map((l) => new Float32Array(l.weight.length / unit));
    let kept: Float32Array[] | null = null;  // the single group's Fisher inverses, kept for the update
    if (!obert) {
      targets.forEach((l, t) => magnitudeScores(l.weight, masks[t], maskType, scores[t]));
    } else {
      for (const group of plan!.groups) {
        const finvs = buildFisher(group, masks);
        group.forEach((sg, i) => {
          const l = targets[sg.target], d = sg.end - sg.start;
          k.obsScores(finvs[i], l.weight.subarray(sg.start, sg.end), masks[sg.target].subarray(sg.start, sg.end), d, B,
            maskType === 'block4', scores[sg.target].subarray(sg.start / unit, sg.end / unit));
        });
        if (G === 1) kept = finvs;
      }
    }
    const keep = selectKeep(k, scores, s, global);
    const newMasks = targets.map((l, t) => {
      const nm = maskType === 'block4' ? expandGroups(keep[t], l.weight.length) : keep[t];
      for (let j = 0; j < nm.length; j++) nm[j] &= masks[t][j];
      return nm;
    });
    const prunedNew = newMasks.map((nm, t) => nm.map((v, j) => (masks[t][j] && !v ? 1 : 0)));
    if (obert) {
      // Updated weights go to copies until every group's gradients are taken (same weights for every Fisher).
      const updated = targets.map((l) => l.weight.slice());
      for (const group of plan!.groups) {
        const finvs = kept ?? buildFisher(group, masks);
        group.forEach((sg, i) => k.obsUpdate(finvs[i], updated[sg.target].subarray(sg.start, sg.end),
          prunedNew[sg.target].subarray(sg.start, sg.end), sg.end - sg.start, B, maskType === 'block4'));
      }
      targets.forEach((l, t) => l.weight.set(updated[t]));
    }
    targets.forEach((l, t) => { l.mask = newMasks[t]; l.applyMask(); });
  }

  const layers: LayerReport[] = targets.map((l) => {
    const pruned = countPruned(l.mask!);
    return { name: l.name, shape: [l.outFeatures, l.inFeatures], numel: l.weight.length, pruned, sparsity: pruned / l.weight.length };
  });
  const pruned = layers.reduce((a, x) => a + x.pruned, 0);
  return {
    method: o.method, maskType, blockSize: obert ? B : null, numGrads: obert ? m : null, dampening: obert ? lambda : null,
    targetSparsity: o.sparsity, achievedSparsity: pruned / N, pruned, numel: N, layers,
    fisherBytes: obert ? sizes.reduce((a, d) => a + fisherInverseBytes(d, B), 0) : null,
    peakFisherBytes: plan?.peakBytes ?? null, groups: G, gradientPasses: passes, seconds: (performance.now() - t0) / 1000,
  };
}
