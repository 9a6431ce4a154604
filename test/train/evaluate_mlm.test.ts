/**
 * evaluateMlm: equals the trainer's own evaluation; equals a hand computation (masks drawn directly with
 * maskTokens, a forward without labels over every token, the cross-entropy and argmax in float64) on the same
 * seeded masks, whole split and cut at --max-samples; same seed gives the same numbers, another seed other masks;
 * perplexity = exp(loss); accuracy in [0, 1].
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { maskTokens } from '../../src/data/masking.js';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import type { MaskedLMModel } from '../../src/model/mlm.js';
import { IGNORE_INDEX } from '../../src/tokenizer/special_tokens.js';
import { evaluateMlm } from '../../src/train/evaluate_mlm.js';
import { Trainer } from '../../src/train/trainer.js';
import { tinyConfig, tinyCorpus } from './helpers.js';

let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
let trainer: Trainer;
before(async () => {
  corpus = await tinyCorpus();
  // 40 steps: enough for the tiny model to predict frequent words, so that accuracy is not 0 and the hit count is tested.
  trainer = new Trainer({ config: tinyConfig(['max_duration=40ba', 'eval_interval=40ba', 'optimizer.lr=1e-2', 'model.model_config.hidden_dropout_prob=0']),
    train: corpus.train, val: corpus.val, runDir: join(corpus.dir, 'run'), log: false });
  await trainer.fit();
});
after(() => corpus.cleanup());

/** Loss, hits and targets over the first `n` samples, batches of `B`, straight from maskTokens and an unlabelled forward. */
function byHand(model: MaskedLMModel, ds: TokenDataset, B: number, n: number, seed: number, p: number) {
  const V = model.config.vocab_size;
  let nll = 0, hits = 0, targets = 0;
  const masks: number[] = [];
  for (let b = 0; b * B < n; b++) {
    const rows = Math.min(B, n - b * B);
    const samples = Array.from({ length: rows }, (_, r) => ds.sample(b * B + r));
    const S = Math.max(...samples.map((s) => s.length));   // masks are keyed by (row, column), not by the padding
    const ids = new Int32Array(rows * S), am = new Int32Array(rows * S);
    samples.forEach((s, r) => { ids.set(s, r * S); am.fill(1, r * S, r * S + s.length); });
    const m = maskTokens(ids, S, b, { mlm_probability: p, seed }, am);
    const out = model.forward({ batch: rows, seqlen: S, input_ids: m.input_ids, attention_mask: am, token_type_ids: new Int32Array(rows * S) });
    for (let j = 0; j < out.positions.length; j++) {
      const y = m.labels[out.positions[j]];
      if (y === IGNORE_INDEX) continue;
      masks.push(b * 1e6 + out.positions[j]);
      let mx = -Infinity, arg = 0;
      for (let v = 0; v < V; v++) if (out.logits[j * V + v] > mx) { mx = out.logits[j * V + v]; arg = v; }
      let se = 0;
      for (let v = 0; v < V; v++) se += Math.exp(out.logits[j * V + v] - mx);
      nll += mx + Math.log(se) - out.logits[j * V + y];
      if (arg === y) hits++;
      targets++;
    }
  }
  return { loss: nll / targets, hits, targets, masks };
}

test('evaluateMlm gives the trainer evaluation bit for bit (same batches, masks and sums)', () => {
  const c = trainer.config;
  const mine = evaluateMlm(trainer.model, corpus.val, { batch_size: c.device_eval_batch_size, seed: c.seed,
    mlm_probability: c.eval.mlm_probability, max_batches: c.eval_subset_num_batches, drop_last: c.eval.drop_last });
  const theirs = trainer.evaluate()!;
  assert.deepEqual({ loss: mine.loss, accuracy: mine.accuracy, num_targets: mine.num_targets, batches: mine.batches }, theirs);
});

test('evaluateMlm equals a hand computation on the same seeded masks; perplexity = exp(loss)', () => {
  const model = trainer.model, ds = corpus.val;
  for (const [B, n] of [[5, ds.num_samples], [5, 7], [4, ds.num_samples]]) {
    const r = evaluateMlm(model, ds, { batch_size: B, max_samples: n });
    const h = byHand(model, ds, B, n, 17, 0.15);
    assert.equal(r.samples, n);
    assert.equal(r.batches, Math.ceil(n / B));
    assert.equal(r.num_targets, h.targets);
    assert.ok(h.targets > 10, `${h.targets} targets`);
    // Tolerance: the hand loss is float64 over the float32 logits of a full forward; evaluateMlm's comes from the
    // float32 CE kernel over the subset-trick forward. The loss is ~4 nats, so 1e-6 is a few float32 ulps (measured:
    // 1.5e-9); a batch-weighted instead of token-weighted mean, or other masks, is off by 1e-3 or more.
    assert.ok(Math.abs(r.loss - h.loss) < 1e-6, `B ${B} n ${n}: loss ${r.loss} vs by hand ${h.loss}`);
    assert.equal(r.accuracy, h.hits / h.targets, `B ${B} n ${n}: hits`);
    assert.ok(h.hits > 0, 'the trained model gets some masked tokens right');
    assert.ok(r.accuracy >= 0 && r.accuracy <= 1);
    assert.equal(r.perplexity, Math.exp(r.loss));
    let tokens = 0;
    for (let i = 0; i < n; i++) tokens += ds.sampleLength(i);
    assert.equal(r.tokens, tokens);
  }
});

test('same seed: the same numbers; another seed: other masks and another loss; rate 0: no targets', () => {
  const model = trainer.model, ds = corpus.val;
  const a = evaluateMlm(model, ds, { batch_size: 6, seed: 5 }), b = evaluateMlm(model, ds, { batch_size: 6, seed: 5 });
  const c = evaluateMlm(model, ds, { batch_size: 6, seed: 6 });
  assert.deepEqual(a, b);
  assert.notEqual(a.loss, c.loss);
  assert.notDeepEqual(byHand(model, ds, 6, ds.num_samples, 5, 0.15).masks, byHand(model, ds, 6, ds.num_samples, 6, 0.15).masks);
  const thirty = evaluateMlm(model, ds, { batch_size: 6, seed: 5, mlm_probability: 0.3 });
  assert.ok(thirty.num_targets > 1.5 * a.num_targets, `${thirty.num_targets} targets at 30% vs ${a.num_targets} at 15%`);
  const none = evaluateMlm(model, ds, { mlm_probability: 0 });
  assert.equal(none.num_targets, 0);
  assert.ok(Number.isNaN(none.loss) && Number.isNaN(none.accuracy));
  assert.throws(() => evaluateMlm(model, ds, { max_samples: 0 }), /max_samples must be an integer >= 1, got 0/);
  assert.throws(() => evaluateMlm(model, ds, { mlm_probability: 1.5 }), /mlm_probability must be in \[0, 1\], got 1.5/);
});
