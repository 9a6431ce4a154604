/**
 * Validation of numeric options, config values and environment variables: each error names the flag, key or
 * variable the user gave (not the preset), with the value's meaning; nothing starts training or writes a run folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/train/config.js';
import { checkKernelEnv } from '../../src/kernels/native.js';
import { assertUserError, runCli, tmp } from './helpers.js';

const dir = tmp('val');
after(() => rmSync(dir, { recursive: true, force: true }));

test('config values: durations > 0, intervals >= 1 batch, probabilities in (0, 1), lr > 0, counts', () => {
  const bad = (ov: string[], re: RegExp) => assert.throws(() => loadConfig({ preset: 'mosaic-bert-tiny', overrides: ov }), re);
  bad(['max_duration=0ba'], /--set max_duration: 'max_duration': the training duration must be > 0, got "0ba"/);
  bad(['max_duration=0tok'], /'max_duration': the training duration must be > 0/);
  bad(['max_duration=0.4ba'], /'max_duration': a duration in batches must be a whole number, got "0.4ba"/);
  bad(['save_interval=0ba'], /--set save_interval: 'save_interval': an interval must be at least one batch .* got '0ba'/);
  bad(['eval_interval=0ba'], /'eval_interval': an interval must be at least one batch/);
  bad(['eval_interval=0.5ba'], /'eval_interval': an interval must be at least one batch .* got '0.5ba'/);
  bad(['console_log_interval=0dur'], /'console_log_interval': an interval must be at least one batch/);
  bad(['mlm_probability=0'], /--set mlm_probability: 'mlm_probability': expected a masking probability in \(0, 1\), got 0/);
  // The loader key interpolates ${mlm_probability}: attributed to where mlm_probability came from.
  bad(['mlm_probability=1'], /--set mlm_probability \(via 'train_loader\.dataset\.mlm_probability': \$\{mlm_probability\}\)/);
  bad(['eval_loader.dataset.mlm_probability=0'], /'eval_loader\.dataset\.mlm_probability': expected a masking probability in \(0, 1\), got 0/);
  bad(['optimizer.lr=0'], /'optimizer\.lr': expected the peak learning rate, a number > 0, got 0/);
  bad(['eval_subset_num_batches=0'], /'eval_subset_num_batches': expected -1 \(all\) or a batch count >= 1/);
  bad(['save_num_checkpoints_to_keep=0'], /'save_num_checkpoints_to_keep': expected -1 \(keep all\) or a count >= 1/);
  bad(['threads=4096'], /'threads': expected kernel threads, an integer in \[1, 1024\] \(0: the default\), got 4096/);
  bad(['val_fraction=0'], /'val_fraction'/);
  bad(['model.model_config.hidden_dropout_prob=1'], /--set model\.model_config\.hidden_dropout_prob: 'model\.model_config\.hidden_dropout_prob' must be a probability in \[0, 1\)/);
  // Valid edge values still load.
  loadConfig({ preset: 'mosaic-bert-tiny', overrides: ['save_interval=1ba', 'eval_interval=0.1dur', 'mlm_probability=0.5', 'max_duration=1ba'] });
});

test('errors name the flag the user gave, not the preset', () => {
  const flags = { 'optimizer.lr': '--lr', max_duration: '--max-duration' };
  assert.throws(() => loadConfig({ preset: 'mosaic-bert-tiny', overrides: ['optimizer.lr=fast'], flags }),
    (e: Error) => /--lr: 'optimizer\.lr': expected number/.test(e.message) && !/preset/.test(e.message));
  assert.throws(() => loadConfig({ preset: 'mosaic-bert-tiny', overrides: ['max_duration=0ba'], flags }), /^Error: --max-duration: 'max_duration'/);
  assert.throws(() => loadConfig({ preset: 'mosaic-bert-tiny', overrides: ['max_duration=soon'], flags }), /--max-duration: max_duration: expected a time/);
  // A key from the file is attributed to the file; a preset's own value to the preset.
  const f = join(dir, 'c.yaml');
  writeFileSync(f, 'optimizer:\n  name: decoupled_adamw\n  lr: -1\n');
  assert.throws(() => loadConfig({ file: f, preset: 'mosaic-bert-tiny' }), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: 'optimizer\\.lr': expected the peak learning rate`));
});

test('an empty config file is an error naming the file', () => {
  const f = join(dir, 'empty.yaml');
  writeFileSync(f, '# nothing but a comment\n');
  assert.throws(() => loadConfig({ file: f }), new RegExp(`empty\\.yaml: the config file is empty`));
  writeFileSync(f, '');
  assert.throws(() => loadConfig({ file: f, preset: 'mosaic-bert-tiny' }), /empty\.yaml: the config file is empty/);
});

test('MOSAICBERT_NUM_THREADS and MOSAICBERT_KERNEL are checked (name, value, accepted range)', () => {
  for (const t of ['abc', '0', '-2', '1025', '2.5', '']) {
    assert.throws(() => checkKernelEnv({ MOSAICBERT_NUM_THREADS: t }), new RegExp(`MOSAICBERT_NUM_THREADS: expected .*\\[1, 1024\\], got '${t.replace('.', '\\.')}'`));
  }
  for (const k of ['bogus', 'AVX2', '']) {
    assert.throws(() => checkKernelEnv({ MOSAICBERT_KERNEL: k }), new RegExp(`MOSAICBERT_KERNEL: expected the kernel path 'auto', 'avx2' or 'portable', got '${k}'`));
  }
  checkKernelEnv({ MOSAICBERT_NUM_THREADS: '1', MOSAICBERT_KERNEL: 'portable' });
  checkKernelEnv({ MOSAICBERT_NUM_THREADS: '1024', MOSAICBERT_KERNEL: 'auto' });
});

test('pretrain CLI: bad flags, env and an empty config file fail before anything is written', () => {
  const runDir = join(dir, 'run');
  const base = ['pretrain', '--preset', 'mosaic-bert-tiny', '--run-dir', runDir, '--no-progress', '--data', join(dir, 'absent')];
  assertUserError(runCli([...base, '--max-duration', '0ba']), /--max-duration: 'max_duration': the training duration must be > 0/);
  assertUserError(runCli([...base, '--save-interval', '0ba']), /--save-interval: 'save_interval': an interval must be at least one batch/);
  assertUserError(runCli([...base, '--eval-interval', '0ba']), /--eval-interval: 'eval_interval'/);
  const lr = runCli([...base, '--lr', 'fast']);
  assertUserError(lr, /--lr: 'optimizer\.lr': expected number, received string, got "fast"/);
  assert.doesNotMatch(lr.stderr, /preset mosaic-bert-tiny/);
  assertUserError(runCli([...base, '--threads', '0']), /--threads: expected an integer in \[1, 1024\], got '0'/);
  assertUserError(runCli([...base, '--set', 'mlm_probability=0']), /--set mlm_probability: 'mlm_probability'/);
  const empty = join(dir, 'empty2.yaml');
  writeFileSync(empty, '\n');
  assertUserError(runCli(['pretrain', empty, '--run-dir', runDir, '--no-progress']), /empty2\.yaml: the config file is empty/);
  assertUserError(runCli(['fill-mask', '--model', dir, 'a [MASK]'], { env: { MOSAICBERT_NUM_THREADS: 'abc' } }), /MOSAICBERT_NUM_THREADS: expected .* got 'abc'/);
  assertUserError(runCli(['fill-mask', '--model', dir, 'a [MASK]'], { env: { MOSAICBERT_KERNEL: 'bogus' } }), /MOSAICBERT_KERNEL: .* got 'bogus'/);
  assertUserError(runCli(['fill-mask', '--model', dir, '--top-k', '0', 'a [MASK]']), /--top-k: expected an integer >= 1, got '0'/);
  assert.equal(existsSync(runDir), false, 'no run folder');
});

test('a failed pretrain removes the run folder and the folders it created; an existing run folder is kept', async () => {
  const base = join(dir, 'cleanup');
  mkdirSync(base);
  const pre = (data: string, run: string, extra: string[] = []) => runCli(['pretrain', '--preset', 'mosaic-bert-tiny', '--data', data,
    '--run-dir', join(base, 'runs', run), '--no-progress', '--threads', '1', '--set', 'max_seq_len=32', ...extra]);
  // prepare fails (a binary file): no runs/, no .cache/prepared-*.
  writeFileSync(join(base, 'prog.txt'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]));
  assertUserError(pre(join(base, 'prog.txt'), 'a'), /prog\.txt: a NUL byte at byte offset 6: a binary file/);
  assert.deepEqual(readdirSync(base), ['prog.txt']);
  // An empty corpus: the same.
  writeFileSync(join(base, 'empty.jsonl'), '');
  assertUserError(pre(join(base, 'empty.jsonl'), 'a'), /empty\.jsonl: no text to prepare/);
  assert.deepEqual(readdirSync(base).sort(), ['empty.jsonl', 'prog.txt']);
  // The trainer fails after creating the run folder (fewer samples than one batch): the run folder goes, the
  // prepared (complete, reusable) dataset stays.
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `document number ${i} has a few words in it.` }));
  writeFileSync(join(base, 'small.jsonl'), lines.join('\n') + '\n');
  assertUserError(pre(join(base, 'small.jsonl'), 'b', ['--global-batch-size', '64', '--microbatch-size', '64']), /fewer than one global batch of 64/);
  assert.deepEqual(readdirSync(join(base, 'runs')), ['.cache']);
  const [prepared] = readdirSync(join(base, 'runs', '.cache'));
  assert.ok(existsSync(join(base, 'runs', '.cache', prepared, 'train', 'index.json')));
  // A run folder that existed before is kept as it was.
  mkdirSync(join(base, 'runs', 'c'));
  writeFileSync(join(base, 'runs', 'c', 'notes.md'), 'mine');
  assertUserError(pre(join(base, 'small.jsonl'), 'c', ['--global-batch-size', '64', '--microbatch-size', '64']), /fewer than one global batch/);
  assert.ok(readdirSync(join(base, 'runs', 'c')).includes('notes.md'));
});

test('other commands: --threads in [1, 1024], --lr > 0', () => {
  assertUserError(runCli(['bench', 'kernels', '--threads', 'abc']), /--threads: expected an integer in \[1, 1024\], got 'abc'/);
  assertUserError(runCli(['finetune', '--task', 'sst2', '--model', dir, '--threads', '0']), /--threads: expected an integer in \[1, 1024\], got '0'/);
  assertUserError(runCli(['finetune', '--task', 'sst2', '--model', dir, '--lr', '0']), /--lr: expected a positive number, got '0'/);
});
