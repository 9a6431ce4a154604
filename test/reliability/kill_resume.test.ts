/**
 * kill -9 of a real `mosaicbert pretrain` child (tiny model, 16 steps, a checkpoint every 4, the last 2 kept) at
 * three moments: during a step, half-way through a checkpoint write, half-way through an old checkpoint's removal
 * (the last two injected exactly with MOSAICBERT_TEST_KILL_AT, see src/train/fault.ts). Each time `--resume`
 * cleans up what the kill left, falls back past a damaged newest checkpoint, repairs a torn log line, and ends
 * with every step's loss and the final weights and optimizer moments bit-identical to an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tinyCorpus } from '../train/helpers.js';
import { cli, root, runCli } from './helpers.js';

let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
const runs = () => join(corpus.dir, 'runs');
const args = (run: string) => ['pretrain', '--preset', 'mosaic-bert-tiny', '--data', join(corpus.dir, 'c.jsonl'),
  '--run-dir', join(runs(), run), '--no-progress', '--threads', '1', '--max-duration', '16ba', '--save-interval', '4ba',
  '--eval-interval', '8ba', '--fill-mask', 'the [MASK] of',
  ...['model.model_config.hidden_size=32', 'model.model_config.num_attention_heads=2', 'model.model_config.num_hidden_layers=2',
    'model.model_config.intermediate_size=64', 'max_seq_len=32', 'global_train_batch_size=8', 'device_train_microbatch_size=4',
    'device_eval_batch_size=8', 'eval_subset_num_batches=2', 'val_fraction=0.2', 'save_num_checkpoints_to_keep=2',
    'console_log_interval=100ba'].flatMap((s) => ['--set', s])];

/** Per-step losses of a run's log.jsonl: every record of each step (a resumed run repeats steps after its checkpoint). */
function stepLosses(run: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const line of readFileSync(join(runs(), run, 'log.jsonl'), 'utf8').trim().split('\n')) {
    const e = JSON.parse(line) as { type: string; step: number; loss: number };
    if (e.type !== 'step') continue;
    if (!out.has(e.step)) out.set(e.step, []);
    out.get(e.step)!.push(e.loss);
  }
  return out;
}

let reference: Map<number, number[]>;
before(async () => {
  corpus = await tinyCorpus();
  const r = runCli(args('reference'));
  assert.equal(r.status, 0, r.stderr);
  reference = stepLosses('reference');
  assert.deepEqual([...reference.keys()], Array.from({ length: 16 }, (_, i) => i + 1));
});
after(() => corpus.cleanup());

/** The resumed run equals the reference: every logged loss, the exported model and the last checkpoint's weights and moments. */
function assertSameAsReference(run: string): void {
  const losses = stepLosses(run);
  assert.deepEqual([...losses.keys()].sort((a, b) => a - b), [...reference.keys()]);
  for (const [step, ls] of losses) for (const l of ls) assert.equal(l, reference.get(step)![0], `${run}: loss at step ${step}`);
  const same = (rel: string) => assert.ok(readFileSync(join(runs(), run, rel)).equals(readFileSync(join(runs(), 'reference', rel))), `${run}: ${rel} bit-identical`);
  same('model/model.safetensors');
  same('checkpoints/ba16/model.safetensors');
  same('checkpoints/ba16/optimizer.safetensors');
  const left = readdirSync(join(runs(), run, 'checkpoints')).sort();
  assert.deepEqual(left, ['ba12', 'ba16'], `${run}: only complete checkpoints remain`);
}

function killedAt(point: string, run: string): void {
  const r = runCli(args(run), { env: { MOSAICBERT_TEST_KILL_AT: point } });
  assert.equal(r.status, null, `killed, not exited (stderr: ${r.stderr})`);
}

test('kill -9 half-way through a checkpoint write: --resume removes the partial save and continues from the previous one', () => {
  killedAt('checkpoint-write:8', 'write');
  const ck = join(runs(), 'write', 'checkpoints');
  assert.deepEqual(readdirSync(ck).map((f) => f.replace(/-\d+$/, '-PID')).sort(), ['.tmp-ba8-PID', 'ba4']);
  // The kill could as well have torn the log's last line.
  appendFileSync(join(runs(), 'write', 'log.jsonl'), '{"type":"step","step":9,"samp');
  const r = runCli([...args('write'), '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /removed .*checkpoints\/\.tmp-ba8-\d+ \(left by an interrupted save or removal\)/);
  assert.match(r.stderr, /warning: .*log\.jsonl:\d+: dropped a torn last line/);
  assert.match(r.stderr, /resuming from .*checkpoints\/ba4 at step 4/);
  assertSameAsReference('write');
});

test("kill -9 half-way through an old checkpoint's removal, then a damaged newest checkpoint: fallback with a warning", () => {
  killedAt('checkpoint-remove:4', 'remove');     // while saving ba12 and removing ba4 (2 kept)
  const ck = join(runs(), 'remove', 'checkpoints');
  assert.deepEqual(readdirSync(ck).map((f) => f.replace(/-\d+$/, '-PID')).sort(), ['.trash-ba4-PID', 'ba12', 'ba8']);
  const model = join(ck, 'ba12', 'model.safetensors');
  truncateSync(model, statSync(model).size - 4);
  const r = runCli([...args('remove'), '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /removed .*\.trash-ba4-\d+/);
  assert.match(r.stderr, /warning: skipping checkpoint .*ba12: .*ba12\/model\.safetensors: \d+ bytes, the header describes \d+ \(truncated or damaged\)/);
  assert.match(r.stderr, /resuming from .*checkpoints\/ba8 at step 8/);
  assertSameAsReference('remove');
});

test('kill -9 during a step: --resume continues bit-identically', async () => {
  const child = spawn(process.execPath, [cli, ...args('step')], { cwd: root, stdio: 'ignore' });
  const exited = new Promise<string | null>((res) => child.on('exit', (_code, signal) => res(signal)));
  const log = join(runs(), 'step', 'log.jsonl');
  // Kill once step 6 is logged (after the ba4 checkpoint): the process is then in step 7 or later.
  for (let i = 0; i < 1200 && !(existsSync(log) && /"type":"step","step":6,/.test(readFileSync(log, 'utf8'))); i++) await sleep(50);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'killed before it finished');
  const r = runCli([...args('step'), '--resume']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming from .*checkpoints\/ba(4|8) at step (4|8)/);
  assertSameAsReference('step');
});

test('--resume with no intact checkpoint is an error naming each damaged one', () => {
  const run = join(runs(), 'write');
  for (const c of ['ba12', 'ba16']) truncateSync(join(run, 'checkpoints', c, 'state.json'), 50);
  const r = runCli([...args('write'), '--resume']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /warning: skipping checkpoint .*ba16: .*ba16\/state\.json: invalid checkpoint state/);
  assert.match(r.stderr, /--resume: no intact checkpoint in .*checkpoints \(2 damaged, named above\)/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
