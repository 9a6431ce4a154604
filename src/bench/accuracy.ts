/**
 * The accuracy check behind `mosaicbert bench accuracy` (issue #11's acceptance): what the inference backends do to
 * a fine-tuned classifier's predictions on a GLUE dev set (default SST-2, all 872 examples).
 * - dense: the folder's weights in fp32 prepared (`prepareInference('fp32')`: pre-packed dense, what the pipelines
 *   run) against the trainable dense path (bit-identical kernels: expected difference 0), and INT8 (`'q8'`: weights
 *   per output channel, activations per token) against fp32 prepared: accuracy of each, the difference in points,
 *   the max |logit| difference and the number of flipped predictions.
 * - pruned copies: global magnitude pruning (`oneShotPrune`, method gmp) of the encoder's projections to the given
 *   sparsity, unstructured and 1x4 blocks along the input dimension (the oBERT 4-block pattern), done in memory on
 *   the classifier (the `prune` command takes MLM folders). fp32 prepared (the sparse kernels, CSR or BSR4 per layer
 *   by its own sparsity) against the same zeros through the dense path, and q8 (+ sparse) against fp32 sparse. A
 *   one-shot 90% prune without recovery fine-tuning costs most of the accuracy; these rows measure what the
 *   backends add to the pruned model, not how good pruning is.
 * Writes a JSON file and the `accuracy` section of bench/RESULTS.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { getKernelPath, getNumThreads, setNumThreads } from '../kernels/native.js';
import { fromPretrained } from '../interop/pretrained.js';
import { loadTokenizer } from '../pipelines/common.js';
import { collate, encodeExamples, GLUE_MAX_SEQ_LEN } from '../glue/finetune.js';
import { glueTask, readGlueSplit, taskFiles } from '../glue/tasks.js';
import type { SequenceClassificationModel } from '../model/classification.js';
import type { PaddedBatch } from '../model/batch.js';
import { oneShotPrune } from '../pruning/one_shot.js';
import { writeSection } from './kernels.js';

/**
 * Tolerance of fp32 sparse against dense-with-zeros on logits, absolute, for logits of magnitude up to about 10:
 * both paths multiply the same non-zero products in fp32 and differ only in summation order, which changes a dot
 * product of K terms by about sqrt(K) * 2^-24 of its magnitude (mini's widest input, K = 1024: ~2e-6 relative;
 * base's, K = 3072: ~3e-6). A few such reorderings in series, through LayerNorms that rescale by 1/std of their
 * input, stay near 1e-5 on logits of a few units; 1e-4 leaves a factor of ~10, while anything a kernel gets wrong
 * (a dropped block, a wrong index, a missing bias) moves logits by orders of magnitude more.
 */
export const SPARSE_LOGIT_TOLERANCE = 1e-4;

/** Two sets of logits `[n, numLabels]` of the same examples compared. */
export interface LogitComparison {
  examples: number;
  /** Accuracy (fraction) of the reference and of the candidate against the labels. */
  accuracyRef: number;
  accuracy: number;
  /** (candidate - reference) accuracy, in points (x100). */
  deltaPoints: number;
  /** max and mean over all logits of |candidate - reference|. */
  maxAbsLogitDiff: number;
  meanAbsLogitDiff: number;
  /** max |reference logit|: the scale maxAbsLogitDiff is read against. */
  maxAbsLogit: number;
  /** Examples whose argmax differs. */
  flips: number;
  /** Distinct labels the candidate predicts (1: a constant predictor, whose accuracy says nothing of the logits). */
  labelsPredicted: number;
}

/** Row argmax of `[n, k]` logits (first index on ties, as `predictionsFromLogits`). */
function argmaxRows(logits: Float32Array, n: number, k: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    p[i] = best;
  }
  return p;
}

/**
 * Compares candidate logits with reference logits of the same `n = labels.length` examples.
 * @param ref, cand `[n, numLabels]` float32 logits.
 * @param labels `[n]` class ids.
 * @throws RangeError when the lengths disagree.
 */
export function compareLogits(ref: Float32Array, cand: Float32Array, labels: ArrayLike<number>, numLabels: number): LogitComparison {
  const n = labels.length;
  if (ref.length !== n * numLabels || cand.length !== n * numLabels) {
    throw new RangeError(`compareLogits: logits of ${ref.length} and ${cand.length} values, expected ${n} x ${numLabels}`);
  }
  const pr = argmaxRows(ref, n, numLabels), pc = argmaxRows(cand, n, numLabels);
  let hitsR = 0, hitsC = 0, flips = 0, maxD = 0, sumD = 0, maxL = 0;
  for (let i = 0; i < n; i++) {
    if (pr[i] === labels[i]) hitsR++;
    if (pc[i] === labels[i]) hitsC++;
    if (pr[i] !== pc[i]) flips++;
  }
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(cand[i] - ref[i]);
    maxD = Math.max(maxD, d); sumD += d; maxL = Math.max(maxL, Math.abs(ref[i]));
  }
  const accuracyRef = n ? hitsR / n : NaN, accuracy = n ? hitsC / n : NaN;
  return { examples: n, accuracyRef, accuracy, deltaPoints: 100 * (accuracy - accuracyRef), maxAbsLogitDiff: maxD,
    meanAbsLogitDiff: ref.length ? sumD / ref.length : 0, maxAbsLogit: maxL, flips, labelsPredicted: new Set(pc).size };
}

/**
 * Logits of a classifier over padded batches, in order, with whatever backends the model has set.
 * @returns `[sum of batch sizes, num_labels]` float32.
 */
export function classifierLogits(model: SequenceClassificationModel, batches: PaddedBatch[]): Float32Array {
  const NL = model.config.num_labels, n = batches.reduce((s, b) => s + b.batch, 0);
  const out = new Float32Array(n * NL);
  let off = 0;
  for (const b of batches) {
    out.set(model.forward(b, { training: false }).logits.subarray(0, b.batch * NL), off);
    off += b.batch * NL;
  }
  return out;
}

/** Backend kinds of the encoder projections, counted ('csr': 3, 'bsr4': 13). */
function kindCounts(model: SequenceClassificationModel): Record<string, number> {
  const c: Record<string, number> = {};
  for (const l of model.encoder.linears()) { const k = l.backend?.kind ?? 'dense (training path)'; c[k] = (c[k] ?? 0) + 1; }
  return c;
}

/** One pruned copy's checks. */
export interface PrunedCheck {
  maskType: 'unstructured' | 'block4';
  targetSparsity: number;
  /** Fraction of zero weights over the encoder's projections after pruning. */
  achievedSparsity: number;
  /** fp32 prepared (sparse kernels) against the same zeros through the dense training path. */
  sparseVsDense: LogitComparison;
  /** {@link SPARSE_LOGIT_TOLERANCE} and whether sparseVsDense.maxAbsLogitDiff is within it. */
  tolerance: number;
  withinTolerance: boolean;
  /** q8 (+ sparse) against fp32 sparse. */
  q8VsFp32: LogitComparison;
  kindsFp32: Record<string, number>;
  kindsQ8: Record<string, number>;
}

/** Everything `bench accuracy` measured. */
export interface AccuracyBenchResult {
  date: string;
  command: string;
  model: string;
  task: string;
  devFile: string;
  maxSeqLen: number;
  threads: number;
  kernelPath: string;
  /** fp32 prepared against the dense training path (expected identical). */
  preparedVsDense: LogitComparison;
  /** q8 against fp32 prepared. */
  q8VsFp32: LogitComparison;
  kindsFp32: Record<string, number>;
  kindsQ8: Record<string, number>;
  pruned: PrunedCheck[];
}

export interface AccuracyBenchOptions {
  /** Fine-tuned classifier folder (config.json + weights + vocab.txt). */
  model: string;
  /** GLUE task (default 'sst2'); its dev split is read from `dataDir`. */
  task?: string;
  dataDir: string;
  /** Sparsity of the pruned copies (default 0.9); empty list: no pruned copies. */
  sparsities?: number[];
  threads?: number;
  batchSize?: number;
  /** JSON file to write (none when undefined) and the Markdown file whose `accuracy` section is written. */
  json?: string;
  out?: string;
  command: string;
  log?: (line: string) => void;
}

const pct = (x: number) => (100 * x).toFixed(2);
const sci = (x: number) => (x === 0 ? '0' : x.toExponential(1));

/** One Markdown row of a comparison. */
function row(what: string, refName: string, candName: string, c: LogitComparison): string {
  return `| ${what} | ${refName} | ${candName} | ${pct(c.accuracyRef)} | ${pct(c.accuracy)} | ${c.deltaPoints >= 0 ? '+' : ''}` +
    `${c.deltaPoints.toFixed(2)} | ${c.flips} | ${sci(c.maxAbsLogitDiff)} | ${sci(c.meanAbsLogitDiff)} | ${c.maxAbsLogit.toFixed(2)} | ` +
    `${c.labelsPredicted} |`;
}

/** The Markdown body of the results section. */
export function accuracyMarkdown(r: AccuracyBenchResult): string {
  const kinds = (k: Record<string, number>) => Object.entries(k).map(([n, c]) => `${n} ${c}`).join(', ');
  const lines = [
    `## Accuracy of the inference backends on a fine-tuned classifier (${r.date.slice(0, 10)})`, '',
    `Command: \`${r.command}\`.`, '',
    `Model: \`${r.model}\`; ${r.task} dev set \`${r.devFile}\` (${r.q8VsFp32.examples} examples, max_seq_len ` +
      `${r.maxSeqLen} as in fine-tuning). Kernel threads ${r.threads}, kernel path \`${r.kernelPath}\`, ${cpus()[0]?.model ?? 'unknown CPU'}. ` +
      'Accuracies in %, Δ in points (candidate − reference), flips = examples whose predicted label differs, logit ' +
      'differences absolute over all logits, "max abs logit" the reference\'s largest, "labels predicted" how many ' +
      'distinct labels the candidate predicts (1: a constant predictor, whose accuracy is the class balance).', '',
    '| model | reference | candidate | ref acc | cand acc | Δ points | flips | max abs logit diff | mean abs logit diff | max abs logit | labels predicted |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    row('fine-tuned', 'dense path', 'fp32 prepared', r.preparedVsDense),
    row('fine-tuned', 'fp32 prepared', 'q8', r.q8VsFp32),
  ];
  for (const p of r.pruned) {
    const name = `gmp ${Math.round(100 * p.targetSparsity)}% ${p.maskType} (${pct(p.achievedSparsity)}% zeros)`;
    lines.push(row(name, 'dense path, same zeros', 'fp32 sparse', p.sparseVsDense), row(name, 'fp32 sparse', 'q8 sparse', p.q8VsFp32));
  }
  lines.push('', `Backends of the ${Object.values(r.kindsFp32).reduce((a, b) => a + b, 0)} encoder projections: fine-tuned fp32 ` +
    `${kinds(r.kindsFp32)}; q8 ${kinds(r.kindsQ8)}` +
    r.pruned.map((p) => `; ${Math.round(100 * p.targetSparsity)}% ${p.maskType} fp32 ${kinds(p.kindsFp32)}, q8 ${kinds(p.kindsQ8)}`).join('') +
    '.', '',
  `Pruned copies: global magnitude pruning of the encoder's projections (\`oneShotPrune\`, method gmp, in memory, no ` +
    'recovery fine-tuning, so their own accuracy is low: the rows measure what the sparse and INT8 kernels change, not ' +
    `pruning). fp32 sparse against dense-with-zeros is checked against ${sci(SPARSE_LOGIT_TOLERANCE)} absolute: the same ` +
    'products summed in another order (about sqrt(K)·2^-24 relative per dot product of K terms), see ' +
    '`SPARSE_LOGIT_TOLERANCE` in src/bench/accuracy.ts. ' +
    (r.pruned.every((p) => p.withinTolerance) ? 'All within it.' : 'NOT all within it: see the table.'));
  return lines.join('\n') + '\n';
}

/**
 * Runs the check (see the file comment), prints a summary, writes `json` and the `accuracy` section of `out`.
 * @throws Error naming the file when the dev split or the model folder cannot be read.
 */
export async function runAccuracyBench(o: AccuracyBenchOptions): Promise<AccuracyBenchResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  if (o.threads) setNumThreads(o.threads);
  const task = glueTask(o.task ?? 'sst2');
  const devFile = Object.values(taskFiles(task.name, o.dataDir).eval)[0];
  const dev = readGlueSplit(task.name, devFile);
  const labels = dev.map((e) => e.label);
  const tok = await loadTokenizer(o.model);
  const enc = await encodeExamples(tok, dev, GLUE_MAX_SEQ_LEN);
  const bs = o.batchSize ?? 32;
  const batches: PaddedBatch[] = [];
  for (let i = 0; i < enc.length; i += bs) batches.push(collate(enc, Array.from({ length: Math.min(bs, enc.length - i) }, (_, j) => i + j)));
  const load = () => fromPretrained(o.model, { head: 'classification', strict: true });
  const NL = load().config.num_labels;
  log(`${task.name} dev: ${dev.length} examples from ${devFile}; model ${o.model} (${NL} labels)`);

  const model = load();
  const dense = classifierLogits(model, batches);
  model.prepareInference('fp32');
  const kindsFp32 = kindCounts(model), fp32 = classifierLogits(model, batches);
  model.prepareInference('q8');
  const kindsQ8 = kindCounts(model), q8 = classifierLogits(model, batches);
  const preparedVsDense = compareLogits(dense, fp32, labels, NL), q8VsFp32 = compareLogits(fp32, q8, labels, NL);
  log(`fp32 ${pct(q8VsFp32.accuracyRef)}%, q8 ${pct(q8VsFp32.accuracy)}% (Δ ${q8VsFp32.deltaPoints.toFixed(2)} points, ` +
    `${q8VsFp32.flips} flips, max |Δlogit| ${sci(q8VsFp32.maxAbsLogitDiff)}); fp32 prepared vs dense path max |Δlogit| ` +
    `${sci(preparedVsDense.maxAbsLogitDiff)}`);

  const pruned: PrunedCheck[] = [];
  for (const s of o.sparsities ?? [0.9]) {
    for (const maskType of ['unstructured', 'block4'] as const) {
      const m = load();
      oneShotPrune(m, { method: 'gmp', sparsity: s, maskType });
      const d = classifierLogits(m, batches);
      m.prepareInference('fp32');
      const kf = kindCounts(m), sp = classifierLogits(m, batches);
      m.prepareInference('q8');
      const kq = kindCounts(m), sq = classifierLogits(m, batches);
      const sparseVsDense = compareLogits(d, sp, labels, NL), q = compareLogits(sp, sq, labels, NL);
      const p: PrunedCheck = { maskType, targetSparsity: s, achievedSparsity: m.encoderSparsity(), sparseVsDense,
        tolerance: SPARSE_LOGIT_TOLERANCE, withinTolerance: sparseVsDense.maxAbsLogitDiff <= SPARSE_LOGIT_TOLERANCE,
        q8VsFp32: q, kindsFp32: kf, kindsQ8: kq };
      pruned.push(p);
      log(`gmp ${s} ${maskType}: fp32 sparse ${pct(q.accuracyRef)}% vs dense-with-zeros max |Δlogit| ` +
        `${sci(sparseVsDense.maxAbsLogitDiff)} (${p.withinTolerance ? 'within' : 'OVER'} ${sci(SPARSE_LOGIT_TOLERANCE)}); ` +
        `q8 sparse ${pct(q.accuracy)}% (Δ ${q.deltaPoints.toFixed(2)}, ${q.flips} flips, max |Δlogit| ${sci(q.maxAbsLogitDiff)})`);
    }
  }
  const r: AccuracyBenchResult = { date: new Date().toISOString(), command: o.command, model: o.model, task: task.name,
    devFile, maxSeqLen: GLUE_MAX_SEQ_LEN, threads: getNumThreads(), kernelPath: getKernelPath(), preparedVsDense,
    q8VsFp32, kindsFp32, kindsQ8, pruned };
  if (o.json) {
    mkdirSync(dirname(resolve(o.json)), { recursive: true });
    writeFileSync(o.json, JSON.stringify(r, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  if (o.out) { writeSection(o.out, 'accuracy', accuracyMarkdown(r)); log(`wrote ${o.out}`); }
  return r;
}
