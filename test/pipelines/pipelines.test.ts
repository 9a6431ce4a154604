/**
 * Pipelines on tiny random MosaicBERTs saved with savePretrained (bert-base-uncased vocab, vocab_size 30528,
 * hidden 32, 2 layers, 2 heads, intermediate 64): output shapes and keys, sorted scores, unpadded batches equal to
 * one-by-one runs, mean pooling ignoring padding, L2 normalization, id2label / sigmoid / regression, a 3,000-token
 * input (ALiBi past 512), and the fill-mask / embed / classify commands' JSONL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { pipeline, PipelineInputError, fillMaskPipeline, type FillMaskResult, type ClassificationResult } from '../../src/pipelines/index.js';
import { chunkByTokens, topK } from '../../src/pipelines/common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tiny = { vocab_size: 30528, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
  initializer_range: 0.2 };

function tmp(tag: string): string { return mkdtempSync(join(tmpdir(), `mb-pipe-${tag}-`)); }

const mlmDir = tmp('mlm');
savePretrained(new MosaicBertForMaskedLM(configFromDict(tiny), { initSeed: 3 }), mlmDir);
const clsDir = tmp('cls');
savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...tiny, num_labels: 3,
  id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' }, label2id: { negative: 0, neutral: 1, positive: 2 } }), { initSeed: 4 }), clsDir);
const mlDir = tmp('ml');
savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...tiny, num_labels: 2,
  problem_type: 'multi_label_classification', id2label: { 0: 'a', 1: 'b' } }), { initSeed: 5 }), mlDir);
const regDir = tmp('reg');
savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...tiny, num_labels: 1 }), { initSeed: 6 }), regDir);

const texts = ['The capital of France is [MASK].', 'Hello [MASK]!', 'a much longer sentence about [MASK] and what it does in the morning.'];
const quiet = { load: { warn: () => {} } };

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);
}

test('topK and chunkByTokens', () => {
  assert.deepEqual(topK([1, 5, 3, 5, 0], 3), [1, 3, 2]);
  assert.deepEqual(topK([2, 1], 5), [0, 1]);
  assert.deepEqual(chunkByTokens([3, 3, 3, 10, 1], 6), [[0, 2], [2, 3], [3, 4], [4, 5]]);
});

test('fill-mask: keys, sorted scores summing to <= 1, top_k, batch == one by one', async () => {
  const fm = await pipeline('fill-mask', mlmDir, quiet);
  const one = await fm(texts[0]) as FillMaskResult[];
  assert.equal(one.length, 5);
  for (const r of one) {
    assert.deepEqual(Object.keys(r).sort(), ['score', 'sequence', 'token', 'token_str']);
    assert.equal(typeof r.token_str, 'string');
    assert.ok(!r.sequence.includes('[MASK]') && !r.sequence.includes('[CLS]'));
    assert.ok(r.sequence.startsWith('the capital of france is'));
  }
  for (let i = 1; i < one.length; i++) assert.ok(one[i - 1].score >= one[i].score);
  assert.ok(one.reduce((a, r) => a + r.score, 0) <= 1 + 1e-6);
  assert.equal((await fm(texts[0], { top_k: 2 }) as FillMaskResult[]).length, 2);
  const batch = await fm(texts, { top_k: 3 }) as FillMaskResult[][];
  assert.equal(batch.length, 3);
  for (let i = 0; i < texts.length; i++) {
    const single = await fm(texts[i], { top_k: 3 }) as FillMaskResult[];
    assert.deepEqual(batch[i].map((r) => r.token), single.map((r) => r.token));
    batch[i].forEach((r, j) => close(r.score, single[j].score, 1e-5, `input ${i} rank ${j}`));
  }
});

test('fill-mask: several [MASK]s give one list per mask; no mask is an error naming the input', async () => {
  const fm = await pipeline('fill-mask', mlmDir, quiet);
  const r = await fm('[MASK] is the [MASK] of it.', { top_k: 4 }) as FillMaskResult[][];
  assert.equal(r.length, 2);
  for (const list of r) { assert.equal(list.length, 4); assert.ok(list[0].sequence.includes('[MASK]')); }
  await assert.rejects(fm(['ok [MASK]', 'no mask here']), (e: unknown) => e instanceof PipelineInputError && e.index === 1);
  // The pretraining demo's single-mask API still works and agrees.
  const legacy = await fillMaskPipeline(mlmDir);
  const a = await legacy(texts[1]), b = await fm(texts[1]) as FillMaskResult[];
  assert.deepEqual(a.map((x) => x.token), b.map((x) => x.token));
  await assert.rejects(legacy('two [MASK] [MASK]'), /exactly one \[MASK\]/);
});

test('feature-extraction: [B, S, H] padded with zeros, rows equal single runs; mean ignores padding; normalize', async () => {
  const fe = await pipeline('feature-extraction', mlmDir, quiet);
  const inputs = ['short', 'a somewhat longer input sentence here', 'mid length one'];
  const all = await fe(inputs);
  const H = 32, S = all.dims[1];
  assert.deepEqual(all.dims, [3, S, H]);
  assert.equal(all.type, 'float32');
  for (let i = 0; i < inputs.length; i++) {
    const one = await fe(inputs[i]);
    const n = one.dims[1];
    assert.deepEqual(one.dims, [1, n, H]);
    for (let j = 0; j < n * H; j++) close(all.data[i * S * H + j], one.data[j], 1e-5, `input ${i} value ${j}`);
    for (let j = n * H; j < S * H; j++) assert.equal(all.data[i * S * H + j], 0);
  }
  for (const pooling of ['mean', 'cls'] as const) {
    const pooled = await fe(inputs, { pooling });
    assert.deepEqual(pooled.dims, [3, H]);
    for (let i = 0; i < inputs.length; i++) {
      const one = await fe(inputs[i], { pooling });
      assert.deepEqual(one.dims, [1, H]);
      for (let c = 0; c < H; c++) close(pooled.data[i * H + c], one.data[c], 1e-5, `${pooling} input ${i} col ${c}`);
    }
  }
  // mean = average over the input's own token rows.
  const tok = await fe(inputs[0]), mean = await fe(inputs[0], { pooling: 'mean' });
  const n = tok.dims[1];
  for (let c = 0; c < H; c++) {
    let s = 0;
    for (let r = 0; r < n; r++) s += tok.data[r * H + c];
    close(mean.data[c], s / n, 1e-5, `mean col ${c}`);
  }
  const unit = await fe(inputs, { pooling: 'mean', normalize: true });
  for (let i = 0; i < 3; i++) {
    let s = 0;
    for (let c = 0; c < H; c++) s += unit.data[i * H + c] ** 2;
    close(Math.sqrt(s), 1, 1e-5, `norm of ${i}`);
  }
});

test('text-classification: id2label, softmax top_k, pairs, batch == single, equals the model forward', async () => {
  const clf = await pipeline('text-classification', clsDir, quiet);
  const r = await clf('I love this.') as ClassificationResult[];
  assert.equal(r.length, 1);
  assert.deepEqual(Object.keys(r[0]).sort(), ['label', 'score']);
  assert.ok(['negative', 'neutral', 'positive'].includes(r[0].label));
  const all = await clf('I love this.', { top_k: null }) as ClassificationResult[];
  assert.equal(all.length, 3);
  assert.deepEqual(all.map((x) => x.label).sort(), ['negative', 'neutral', 'positive']);
  close(all.reduce((a, x) => a + x.score, 0), 1, 1e-6, 'softmax sum');
  for (let i = 1; i < 3; i++) assert.ok(all[i - 1].score >= all[i].score);
  assert.equal(all[0].label, r[0].label);
  // The model's own forward (padded batch API) gives the same probabilities.
  const tok = clf.tokenizer, enc = await tok.encode('I love this.');
  const out = clf.model.forward({ batch: 1, seqlen: enc.input_ids.length, input_ids: Int32Array.from(enc.input_ids) });
  const l = Array.from(out.logits), mx = Math.max(...l), z = l.reduce((a, x) => a + Math.exp(x - mx), 0);
  for (const x of all) {
    const j = ['negative', 'neutral', 'positive'].indexOf(x.label);
    close(x.score, Math.exp(l[j] - mx) / z, 1e-5, `label ${x.label}`);
  }
  const inputs = ['good', { text: 'a premise here', text_pair: 'a hypothesis' }, 'a third, longer, input text to classify'];
  const batch = await clf(inputs, { top_k: 2 }) as ClassificationResult[][];
  assert.equal(batch.length, 3);
  for (let i = 0; i < 3; i++) {
    const one = await clf(inputs[i], { top_k: 2 }) as ClassificationResult[];
    assert.deepEqual(batch[i].map((x) => x.label), one.map((x) => x.label));
    batch[i].forEach((x, j) => close(x.score, one[j].score, 1e-5, `input ${i}`));
  }
  const top1 = await clf(inputs) as ClassificationResult[];
  assert.equal(top1.length, 3);
  assert.equal(typeof top1[1].label, 'string');
});

test('text-classification: multi-label sigmoid and regression raw score', async () => {
  const ml = await pipeline('text-classification', mlDir, quiet);
  const r = await ml('some text', { top_k: null }) as ClassificationResult[];
  assert.deepEqual(r.map((x) => x.label).sort(), ['a', 'b']);
  for (const x of r) assert.ok(x.score > 0 && x.score < 1);
  const reg = await pipeline('text-classification', regDir, quiet);
  const enc = await reg.tokenizer.encode('a number please');
  const raw = reg.model.forward({ batch: 1, seqlen: enc.input_ids.length, input_ids: Int32Array.from(enc.input_ids) }).logits[0];
  const rr = await reg('a number please') as ClassificationResult[];
  assert.equal(rr[0].label, 'LABEL_0');
  close(rr[0].score, raw, 1e-5, 'regression');
});

test('a 3,000-token input runs past the 512 training length (ALiBi), truncation keeps [SEP], chunking', async () => {
  const words = Array.from({ length: 2990 }, (_, i) => ['alpha', 'beta', 'gamma', 'delta'][i % 4]).join(' ');
  const fe = await pipeline('feature-extraction', mlmDir, { ...quiet, max_batch_tokens: 1024 });
  const t = await fe([words, 'short one'], { max_length: 4096, pooling: 'none' });
  assert.ok(t.dims[1] >= 2992, `dims ${t.dims}`);
  for (let i = 0; i < t.data.length; i += 997) assert.ok(Number.isFinite(t.data[i]));
  const short = await fe('short one', { pooling: 'none' });
  for (let j = 0; j < short.data.length; j++) close(t.data[t.dims[1] * 32 + j], short.data[j], 1e-5, `row ${j}`);
  const fm = await pipeline('fill-mask', mlmDir, quiet);
  const r = await fm(words + ' [MASK] end', { max_length: 4096, top_k: 3 }) as FillMaskResult[];
  assert.equal(r.length, 3);
  // Default max_length = alibi_starting_size (512): the mask at the end is truncated away.
  await assert.rejects(fm(words + ' [MASK] end'), /after truncation/);
  const trunc = await fm.tokenizer.encode(words, undefined, { max_length: 512 });
  assert.equal(trunc.input_ids.length, 512);
  assert.equal(trunc.input_ids[511], fm.tokenizer.sep_token_id);
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'mosaicbert.js'), ...args], { encoding: 'utf8', cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: fill-mask, embed, classify write JSONL; errors name file and line', () => {
  const fm = cli(['fill-mask', '--model', mlmDir, '--top-k', '2', 'Paris is the [MASK] of France.', 'Hi [MASK].']);
  assert.equal(fm.status, 0, fm.stderr);
  const lines = fm.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].input, 'Paris is the [MASK] of France.');
  assert.equal(lines[0].result.length, 2);
  assert.deepEqual(Object.keys(lines[0].result[0]).sort(), ['score', 'sequence', 'token', 'token_str']);

  const d = tmp('cli');
  const f = join(d, 'in.txt');
  writeFileSync(f, 'first line\n\nsecond line here\n');
  const em = cli(['embed', '--model', mlmDir, '--file', f, '--normalize']);
  assert.equal(em.status, 0, em.stderr);
  const e = em.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(e.length, 2);
  assert.equal(e[1].input, 'second line here');
  assert.deepEqual(e[0].dims, [32]);
  close(Math.hypot(...e[0].embedding), 1, 1e-5, 'cli norm');
  const none = cli(['embed', '--model', mlmDir, '--pooling', 'none', 'two words']);
  assert.equal(none.status, 0, none.stderr);
  assert.deepEqual(JSON.parse(none.stdout).dims, [4, 32]);

  const cf = join(d, 'pairs.tsv');
  writeFileSync(cf, 'a premise\ta hypothesis\njust one text\n');
  const cl = cli(['classify', '--model', clsDir, '--file', cf, '--top-k', '2']);
  assert.equal(cl.status, 0, cl.stderr);
  const c = cl.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(c[0].input, { text: 'a premise', text_pair: 'a hypothesis' });
  assert.equal(c[1].input, 'just one text');
  assert.equal(c[0].result.length, 2);
  assert.ok(['negative', 'neutral', 'positive'].includes(c[0].result[0].label));

  writeFileSync(cf, 'ok\ttwo\nbad\tthree\tfields\n');
  const bad = cli(['classify', '--model', clsDir, '--file', cf]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /pairs\.tsv:2: expected TEXT or TEXT<TAB>PAIR/);
  const mf = join(d, 'masks.txt');
  writeFileSync(mf, 'has a [MASK]\nhas none\n');
  const nomask = cli(['fill-mask', '--model', mlmDir, '--file', mf]);
  assert.equal(nomask.status, 2);
  assert.match(nomask.stderr, /masks\.txt:2: no \[MASK\] token/);
});

test('encoder inference mode (shared per-layer buffers) gives bit-identical hidden states, less workspace', async () => {
  const { unpadBatch } = await import('../../src/model/batch.js');
  const ids = Int32Array.from({ length: 2 * 40 }, (_, i) => 1000 + ((i * 7919) % 20000));
  const mask = Int32Array.from({ length: 80 }, (_, i) => (i < 40 || i < 40 + 23 ? 1 : 0));
  const u = unpadBatch({ batch: 2, seqlen: 40, input_ids: ids, attention_mask: mask });
  const a = new MosaicBertForMaskedLM(configFromDict({ ...tiny, num_hidden_layers: 4 }), { initSeed: 9 });
  const b = new MosaicBertForMaskedLM(configFromDict({ ...tiny, num_hidden_layers: 4 }), { initSeed: 9 });
  const ha = a.encoder.forward(u, { training: false }).slice();
  const hb = b.encoder.forward(u, { training: false, inference: true });
  assert.deepEqual(Array.from(hb), Array.from(ha));
  assert.ok(b.activationBytes() < a.activationBytes() / 2, `${b.activationBytes()} vs ${a.activationBytes()}`);
  assert.throws(() => b.encoder.backward(hb.slice(), b.zeroGrad()), /inference mode/);
});
