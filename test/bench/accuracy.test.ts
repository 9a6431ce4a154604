/**
 * `bench accuracy` (src/bench/accuracy.ts) and the property it measures, on a tiny random classifier's logits
 * (test/pipelines/dtype.test.ts checks the MLM encoder's hidden states; this checks classification logits, CSR as
 * well as BSR4, and q8 on sparse weights): fp32 prepared equals the dense path bit for bit, fp32 sparse equals
 * dense-with-zeros within SPARSE_LOGIT_TOLERANCE, q8 stays within a stated fraction of the logits' spread; and a
 * sparse kernel that loses one weight is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { savePretrained } from '../../src/interop/pretrained.js';
import type { PaddedBatch } from '../../src/model/batch.js';
import { oneShotPrune } from '../../src/pruning/one_shot.js';
import type { SparseLinear } from '../../src/kernels/linear_backends.js';
import { classifierLogits, compareLogits, runAccuracyBench, SPARSE_LOGIT_TOLERANCE } from '../../src/bench/accuracy.js';
import { assertUserError, runCli } from '../reliability/helpers.js';

const cfg = configFromDict({ vocab_size: 30528, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
  intermediate_size: 128, num_labels: 3, initializer_range: 0.1 });

/**
 * A tiny classifier whose logits depend on the input by a few units, like a fine-tuned one's: with BERT's init
 * (std 0.02) every input gets nearly the same logits (they differ by ~1e-3), which no tolerance could tell apart
 * from a constant; std 0.1 and a 5x classifier make them differ by ~2 between inputs.
 */
function classifier(seed: number): MosaicBertForSequenceClassification {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: seed });
  m.classificationHead.classifier.weight.forEach((v, i, w) => { w[i] = 5 * v; });
  return m;
}

/** Two batches of 8 sequences, lengths 3..17 (one token row per sequence at least), pseudo-random ids. */
const batches: PaddedBatch[] = [0, 1].map((b) => {
  const B = 8, S = 17, ids = new Int32Array(B * S), mask = new Int32Array(B * S);
  for (let r = 0; r < B; r++) {
    const len = 3 + ((r * 7 + b * 5) % 15);
    ids[r * S] = 101;
    for (let t = 1; t < len; t++) ids[r * S + t] = 1000 + ((r * 131 + t * 37 + b * 17) * 2654435761 >>> 0) % 20000;
    ids[r * S + len - 1] = 102;
    mask.fill(1, r * S, r * S + len);
  }
  return { batch: B, seqlen: S, input_ids: ids, attention_mask: mask, token_type_ids: new Int32Array(B * S) };
});
const labels = Array.from({ length: 16 }, (_, i) => i % 3);
/** How much a label's logit varies across the inputs: max over labels of (max - min over examples). */
function spread(x: Float32Array, k = 3): number {
  let s = 0;
  for (let j = 0; j < k; j++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = j; i < x.length; i += k) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
    s = Math.max(s, hi - lo);
  }
  return s;
}

test('compareLogits: accuracies, delta in points, flips and logit differences of a hand-made case', () => {
  const ref = Float32Array.from([2, 0, 0, 1, 5, -1]);     // argmax 0, 1, 0
  const cand = Float32Array.from([2, 0.5, 1, 0, 5, -1.25]); // argmax 0, 0, 0
  const c = compareLogits(ref, cand, [0, 1, 1], 2);
  assert.deepEqual(c, { examples: 3, accuracyRef: 2 / 3, accuracy: 1 / 3, deltaPoints: 100 * (1 / 3 - 2 / 3),
    maxAbsLogitDiff: 1, meanAbsLogitDiff: 2.75 / 6, maxAbsLogit: 5, flips: 1, labelsPredicted: 1 });
  assert.throws(() => compareLogits(ref, cand, [0, 1], 2), /logits of 6 and 6 values, expected 2 x 2/);
});

test('fp32 prepared is bit-identical to the dense path; q8 logits within 10% of their spread across inputs', (t) => {
  const m = classifier(21);
  const dense = classifierLogits(m, batches);
  const tolQ8 = 0.1 * spread(dense);
  assert.ok(spread(dense) > 1, `logit spread ${spread(dense)}`);
  m.prepareInference('fp32');
  assert.ok(m.encoder.linears().every((l) => l.backend?.kind === 'dense-packed'));
  assert.deepEqual([...classifierLogits(m, batches)], [...dense]);
  m.prepareInference('q8');
  assert.ok(m.encoder.linears().every((l) => l.backend?.kind === 'q8-dense'));
  const c = compareLogits(dense, classifierLogits(m, batches), labels, 3);
  // int8 rounding is at most 1/254 of a row's (weights) or token's (activations) largest value per factor; through
  // 8 projections in series, on these heavy random weights, the logits move by ~3.5% of their spread (measured at
  // std 0.1; 1.2% of the largest logit). 10% keeps a margin yet fails a q8 path that returned a constant per label
  // (off by half the spread somewhere), ignored the scales or the bias; > 0 fails one that silently ran fp32.
  t.diagnostic(`logit spread ${spread(dense).toFixed(3)}, q8 max |diff| ${c.maxAbsLogitDiff.toExponential(2)}`);
  assert.ok(c.maxAbsLogitDiff > 0 && c.maxAbsLogitDiff < tolQ8, `q8 max |diff| ${c.maxAbsLogitDiff}, tolerance ${tolQ8}`);
});

for (const maskType of ['unstructured', 'block4'] as const) {
  test(`gmp 90% ${maskType}: fp32 sparse kernels equal dense-with-zeros within ${SPARSE_LOGIT_TOLERANCE}; q8 sparse runs int8 BSR4`, (t) => {
    const m = classifier(22);
    const unpruned = classifierLogits(m, batches);
    oneShotPrune(m, { method: 'gmp', sparsity: 0.9, maskType });
    const dense = classifierLogits(m, batches);
    assert.ok(compareLogits(unpruned, dense, labels, 3).maxAbsLogitDiff > 0.1, 'pruning changed the logits');
    assert.ok(spread(dense) > 0.25, `pruned logit spread ${spread(dense)}`);
    m.prepareInference('fp32');
    const kinds = m.encoder.linears().map((l) => l.backend?.kind);
    // Global magnitude: most layers end near 90%, past both crossovers; unstructured zeros pick CSR somewhere.
    assert.ok(kinds.includes(maskType === 'block4' ? 'bsr4' : 'csr'), kinds.join());
    assert.ok(!kinds.includes('dense-packed') || maskType === 'unstructured', kinds.join());
    const sparse = classifierLogits(m, batches);
    const d = compareLogits(dense, sparse, labels, 3).maxAbsLogitDiff;
    assert.ok(d <= SPARSE_LOGIT_TOLERANCE, `fp32 sparse vs dense-with-zeros max |diff| ${d}`);
    // A sparse kernel that lost one weight (the largest stored one of the last layer's sparse projection, whose
    // output reaches the pooler directly) is caught by the same tolerance.
    const be = m.encoder.linears().filter((l) => l.backend?.kind === 'csr' || l.backend?.kind === 'bsr4').at(-1)!.backend as SparseLinear;
    let big = 0;
    be.vals.forEach((v, i) => { if (Math.abs(v) > Math.abs(be.vals[big])) big = i; });
    const saved = be.vals[big];
    be.vals[big] = 0;
    const broken = compareLogits(dense, classifierLogits(m, batches), labels, 3).maxAbsLogitDiff;
    be.vals[big] = saved;
    assert.ok(broken > SPARSE_LOGIT_TOLERANCE, `one lost weight moved logits by only ${broken}`);
    m.prepareInference('q8');
    assert.ok(m.encoder.linears().every((l) => l.backend?.kind.startsWith('q8')));
    assert.ok(m.encoder.linears().some((l) => l.backend?.kind === 'q8-bsr4'));
    t.diagnostic(`spread ${spread(dense).toFixed(3)}, sparse vs dense ${d.toExponential(2)}, one weight lost ${broken.toExponential(2)}`);
    const q = compareLogits(sparse, classifierLogits(m, batches), labels, 3);
    t.diagnostic(`q8 sparse vs fp32 sparse ${q.maxAbsLogitDiff.toExponential(2)}`);
    assert.ok(q.maxAbsLogitDiff > 0 && q.maxAbsLogitDiff < 0.1 * spread(sparse), `q8 sparse max |diff| ${q.maxAbsLogitDiff}`);
  });
}

test('runAccuracyBench end to end on a 6-example SST-2 dev file: JSON and the RESULTS.md section', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-acc-'));
  savePretrained(classifier(23), join(dir, 'model'));
  mkdirSync(join(dir, 'glue', 'SST-2'), { recursive: true });
  writeFileSync(join(dir, 'glue', 'SST-2', 'dev.tsv'), 'sentence\tlabel\na fine film .\t1\ndull and long\t0\n' +
    'it works\t1\nnot good at all\t0\ngreat fun\t1\nbad\t0\n');
  writeFileSync(join(dir, 'RESULTS.md'), '# r\n\n<!-- accuracy:start -->\nold\n<!-- accuracy:end -->\n');
  const r = await runAccuracyBench({ model: join(dir, 'model'), dataDir: join(dir, 'glue'), sparsities: [0.9], batchSize: 4,
    json: join(dir, 'acc.json'), out: join(dir, 'RESULTS.md'), command: 'cmd', log: () => {} });
  assert.equal(r.q8VsFp32.examples, 6);
  assert.equal(r.preparedVsDense.maxAbsLogitDiff, 0);
  assert.deepEqual(r.pruned.map((p) => [p.maskType, p.withinTolerance]), [['unstructured', true], ['block4', true]]);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'acc.json'), 'utf8')).q8VsFp32, r.q8VsFp32);
  const md = readFileSync(join(dir, 'RESULTS.md'), 'utf8');
  assert.match(md, /Command: `cmd`/);
  assert.match(md, /\| fine-tuned \| fp32 prepared \| q8 \|/);
  assert.doesNotMatch(md, /\nold\n/);
});

test('bench accuracy CLI: a bad --sparsities and a missing dev file are one-line user errors naming them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-acc-cli-'));
  assertUserError(runCli(['bench', 'accuracy', '--model', dir, '--sparsities', '0.9,2']), /--sparsities: values must be in \(0, 1\), got '0\.9,2'/);
  assertUserError(runCli(['bench', 'accuracy', '--model', dir, '--data-dir', dir]), /SST-2[/\\]dev\.tsv/);
});
