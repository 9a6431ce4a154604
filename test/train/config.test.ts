/** Schedule values, time units, config loading (the reference YAML as it is), bad-config errors, report file. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, PRESETS } from '../../src/train/config.js';
import { linearDecayWithWarmup } from '../../src/train/schedule.js';
import { formatDuration, parseTime, toBatches } from '../../src/train/time.js';
import { writeReport, writeReportSvgs } from '../../src/report/html.js';
import { sharedDir } from '../helpers.js';

test('formatDuration: m/s under an hour, h/m above, ? for an unknown value', () => {
  assert.equal(formatDuration(7.9), '0m07s');
  assert.equal(formatDuration(359.6), '5m59s');
  assert.equal(formatDuration(3962), '1h06m');
  assert.equal(formatDuration(-1), '?');
  assert.equal(formatDuration(Infinity), '?');
});

test('linear_decay_with_warmup: Composer factor (t/t_w, then 1 + (alpha_f - 1)(t - t_w)/(T - t_w))', () => {
  const T = toBatches(parseTime('286720000sp', 'max_duration'), { globalBatchSize: 4096, batchesPerEpoch: 1e9 }, 'max_duration');
  assert.equal(T, 70000);
  const tw = toBatches(parseTime('0.06dur', 't_warmup'), { globalBatchSize: 4096, batchesPerEpoch: 1e9, totalBatches: T }, 't');
  assert.equal(tw, 4200);
  const f = (t: number) => linearDecayWithWarmup(t, tw, T, 0.02);
  assert.equal(f(0), 0);                       // Composer's first step has lr 0
  assert.equal(f(2100), 0.5);
  assert.equal(f(4200), 1);
  assert.ok(Math.abs(f(37100) - 0.51) < 1e-12);
  assert.ok(Math.abs(f(70000) - 0.02) < 1e-12);
  assert.ok(Math.abs(f(80000) - 0.02) < 1e-12); // clamped after T
  assert.equal(linearDecayWithWarmup(5, 0, 10, 0), 0.5);   // no warmup: decay from 1 to alpha_f
  assert.equal(toBatches(parseTime('100ba', 'x'), { globalBatchSize: 8, batchesPerEpoch: 10 }, 'x'), 100);
  assert.equal(toBatches(parseTime('81sp', 'x'), { globalBatchSize: 8, batchesPerEpoch: 10 }, 'x'), 11);
  assert.equal(toBatches(parseTime('2ep', 'x'), { globalBatchSize: 8, batchesPerEpoch: 10 }, 'x'), 20);
  assert.deepEqual(parseTime('10min', 'max_duration'), { value: 10, unit: 'min' });
  assert.deepEqual(parseTime('5000tok', 'max_duration'), { value: 5000, unit: 'tok' });
  assert.throws(() => parseTime('10 bananas', 'max_duration'), /max_duration: expected a time/);
  assert.throws(() => toBatches(parseTime('5tok', 'eval_interval'), { globalBatchSize: 8, batchesPerEpoch: 10 }, 'eval_interval'), /eval_interval/);
});

test('the reference YAML loads as it is; non-applicable keys are warned about by name', (t) => {
  const shared = sharedDir();
  if (!shared) { t.skip('no ../shared'); return; }
  const { config: c, warnings } = loadConfig({ file: join(shared, 'reference/mosaicml-yamls/main__mosaic-bert-base-uncased.yaml') });
  assert.equal(c.run_name, 'mosaic-bert-base-uncased');
  assert.equal(c.max_seq_len, 128);
  assert.equal(c.train.mlm_probability, 0.3);
  assert.equal(c.eval.mlm_probability, 0.15);
  assert.deepEqual([c.train.shuffle, c.train.drop_last, c.eval.shuffle, c.eval.drop_last], [true, true, false, false]);
  assert.equal(c.model.num_hidden_layers, 12);
  assert.equal(c.model.num_attention_heads, 12);
  assert.equal(c.model.hidden_size, 768);
  assert.equal(c.model.intermediate_size, 3072);
  assert.equal(c.model.vocab_size, 30528);
  assert.equal(c.model.attention_probs_dropout_prob, 0);
  assert.deepEqual(c.optimizer, { lr: 5e-4, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 1e-5 });
  assert.deepEqual(c.scheduler, { t_warmup: { value: 0.06, unit: 'dur' }, alpha_f: 0.02 });
  assert.deepEqual(c.max_duration, { value: 286720000, unit: 'sp' });
  assert.deepEqual(c.eval_interval, { value: 2000, unit: 'ba' });
  assert.equal(c.global_train_batch_size, 4096);
  assert.equal(c.device_train_microbatch_size, 128);
  assert.equal(c.device_eval_batch_size, 128);
  assert.equal(c.seed, 17);
  assert.equal(c.speed_window, 500);
  assert.equal(c.grad_clip_norm, null);
  assert.equal(c.data_local, './my-copy-c4');
  const keys = warnings.map((w) => w.split(':')[0]).sort();
  assert.deepEqual(keys, ['algorithms.fused_layernorm', 'eval_loader.num_workers', 'precision', 'train_loader.num_workers']);
  // The base preset is the same recipe.
  const p = loadConfig({ preset: 'mosaic-bert-base' }).config;
  assert.deepEqual([p.optimizer, p.scheduler, p.max_duration, p.global_train_batch_size, p.model],
    [c.optimizer, c.scheduler, c.max_duration, c.global_train_batch_size, c.model]);
});

test('presets and overrides', () => {
  assert.deepEqual(Object.keys(PRESETS).sort(), ['mosaic-bert-base', 'mosaic-bert-mini', 'mosaic-bert-small', 'mosaic-bert-tiny']);
  const mini = loadConfig({ preset: 'mosaic-bert-mini', overrides: ['optimizer.lr=2e-3', 'max_duration=10min', 'algorithms={gradient_clipping: {clipping_type: norm, clipping_threshold: 1.0}}'] });
  assert.equal(mini.warnings.length, 0, mini.warnings.join('; '));
  const c = mini.config;
  assert.deepEqual([c.model.num_hidden_layers, c.model.hidden_size, c.model.num_attention_heads, c.model.intermediate_size], [4, 256, 4, 1024]);
  assert.equal(c.optimizer.lr, 2e-3);
  assert.deepEqual(c.max_duration, { value: 10, unit: 'min' });
  assert.equal(c.grad_clip_norm, 1);
  const w = loadConfig({ preset: 'mosaic-bert-tiny', overrides: ['device_train_microbatch_size=auto', 'callbacks.memory_monitor={}', 'loggers.wandb={}', 'foo=1'] });
  assert.deepEqual(w.warnings.map((x) => x.split(':')[0]).sort(), ['callbacks.memory_monitor', 'device_train_microbatch_size', 'foo', 'loggers.wandb']);
});

test('bad configs: errors name the key and the expected value', () => {
  const bad = (ov: string[], re: RegExp) => assert.throws(() => loadConfig({ preset: 'mosaic-bert-tiny', overrides: ov }), re);
  bad(['optimizer.lr=fast'], /'optimizer\.lr': expected number, received string, got "fast"/);
  bad(['optimizer.name=adam'], /'optimizer\.name': only 'decoupled_adamw'/);
  bad(['scheduler.name=cosine_decay_with_warmup'], /'scheduler\.name': only 'linear_decay_with_warmup'/);
  bad(['max_duration=forever'], /max_duration: expected a time like '2000ba'/);
  bad(['algorithms.alibi={}'], /'algorithms\.alibi': not implemented/);
  bad(['model.model_config.hidden_size=129'], /hidden_size.*divisible/);
  bad(['model.model_config.num_layers=3'], /'model\.model_config\.num_layers': not a MosaicBERT config field/);
  bad(['eval_loader.dataset.mlm_probability=1.5'], /'eval_loader\.dataset\.mlm_probability': expected a masking probability in \(0, 1\), got 1\.5/);
  bad(['device_train_microbatch_size=64', 'global_train_batch_size=32'], /'device_train_microbatch_size': must be <= global_train_batch_size/);
  bad(['tokenizer_name=roberta-base'], /'tokenizer_name': only 'bert-base-uncased'/);
  bad(['precision=${nope}'], /'precision': \$\{nope\} refers to a missing key/);
  assert.throws(() => loadConfig({ preset: 'mosaic-bert-huge' }), /unknown preset 'mosaic-bert-huge'/);
});

test('report: a self-contained HTML page with inline SVG curves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mosaicbert-report-'));
  try {
    const lines = [{ type: 'start', run_name: 'r', params: 100, global_batch: 8, microbatch: 4 }];
    for (let s = 1; s <= 20; s++) {
      lines.push({ type: 'step', step: s, samples: 8 * s, tokens: 200 * s, loss: 10 - s / 4, lr: 1e-3 * Math.min(1, s / 5), grad_norm: 1,
        step_s: 0.1, tokens_per_s: 2000, mfu: 0.3, elapsed_s: s / 10 } as never);
      if (s % 10 === 0) lines.push({ type: 'eval', step: s, loss: 9 - s / 10, accuracy: s / 100, num_targets: 50 } as never);
    }
    lines.push({ type: 'step', step: 20, samples: 160, tokens: 4000, loss: 5, lr: 1e-3, grad_norm: 1, step_s: 0.1, tokens_per_s: 2000, mfu: 0.3, elapsed_s: 2 } as never);
    writeFileSync(join(dir, 'log.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const out = writeReport(dir);
    assert.equal(out, join(dir, 'report.html'));
    assert.ok(existsSync(out));
    const html = readFileSync(out, 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 6);
    assert.ok(!/<script|<link|src=|href=/i.test(html), 'no external resources or JS');
    assert.match(html, /MLM loss/);
    assert.match(html, /eval masked-token accuracy/);
    assert.match(html, /final eval loss \/ accuracy<\/td><td>7 \/ 20%/);
    const svgs = writeReportSvgs(dir, join(dir, 'svg'));
    assert.deepEqual(svgs.map((p) => p.slice(dir.length + 5)), ['0-mlm-loss-nats.svg', '1-eval-masked-token-accuracy.svg',
      '2-learning-rate.svg', '3-throughput-non-pad-tokens-s-window.svg', '4-mfu.svg', '5-gradient-norm.svg']);
    for (const p of svgs) {
      const svg = readFileSync(p, 'utf8');
      assert.match(svg, /^<\?xml [^>]*\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*><style>text\{/, p);
      assert.ok(svg.trimEnd().endsWith('</svg>'), p);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
