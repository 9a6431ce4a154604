/** Upstream gradual pruning: the pretraining Trainer with an oBERT recipe and an MLM teacher; resume keeps the masks. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { parseRecipe } from '../../src/pruning/recipe.js';
import { Trainer, type TrainEvent } from '../../src/train/trainer.js';
import { tinyConfig, tinyCorpus } from '../train/helpers.js';

let corpus: { dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void };
before(async () => { corpus = await tinyCorpus(); });
after(() => corpus.cleanup());

test('pretrain with an OBS recipe and a teacher: prunes at the scheduled steps to the exact sparsity; resume is bit-identical', async () => {
  const cfg = tinyConfig(['max_duration=8ba', 'save_interval=4ba', 'save_num_checkpoints_to_keep=3']);
  const spe = Math.ceil(corpus.train.num_samples / cfg.global_train_batch_size);
  assert.ok(spe >= 8, `the tiny corpus has ${spe} batches an epoch`);
  const ep = (steps: number) => steps / spe;
  const recipe = parseRecipe(`
pruning_modifiers:
  - !OBSPruningModifier
    params: ["re:bert.encoder.layer.*.mlp.gated_layers.weight"]
    init_sparsity: 0.3
    final_sparsity: 0.6
    start_epoch: ${ep(2)}
    end_epoch: ${ep(6)}
    update_frequency: ${ep(2)}
    num_grads: 4
    fisher_block_size: 8
    grad_sampler_kwargs:
      batch_size: 4
distillation_modifiers:
  - !DistillationModifier
    hardness: 0.5
    temperature: 5.5
`, 'upstream.yaml');
  const teacherDir = join(corpus.dir, 'teacher');
  savePretrained(new MosaicBertForMaskedLM(cfg.model, { initSeed: 99 }), teacherDir);
  const events: TrainEvent[] = [];
  const opts = { config: cfg, train: corpus.train, val: corpus.val, recipe, teacher: teacherDir };
  const a = new Trainer({ ...opts, runDir: join(corpus.dir, 'prA'), onEvent: (e) => events.push(e) });
  const ra = await a.fit();
  const prunes = events.filter((e): e is Extract<TrainEvent, { type: 'prune' }> => e.type === 'prune');
  assert.deepEqual(prunes.map((e) => e.step), [2, 4, 6]);
  assert.deepEqual(prunes.map((e) => e.gradient_passes), [4, 4, 4]);
  const targets = a.model.linears().filter((l) => /gated_layers/.test(l.name));
  const n = targets.reduce((s, l) => s + l.weight.length, 0);
  const zeros = targets.reduce((s, l) => s + l.weight.filter((v) => v === 0).length, 0);
  assert.equal(zeros, Math.round(0.6 * n));
  const steps = readFileSync(join(corpus.dir, 'prA', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'step');
  assert.equal(steps.length, 8);
  assert.ok(steps.every((s) => s.distill_loss > 0 && Math.abs(s.loss - 0.5 * (s.task_loss + s.distill_loss)) < 1e-9));
  assert.equal(steps[7].sparsity, zeros / n);
  assert.equal(steps[0].sparsity, 0);

  const runB = join(corpus.dir, 'prB');
  await new Trainer({ ...opts, runDir: runB, onStep: (s) => (s === 4 ? 'stop' : undefined) }).fit();
  const b = new Trainer({ ...opts, runDir: runB, resume: true });
  const rb = await b.fit();
  assert.equal(rb.state.step, 8);
  for (let s = 5; s <= 8; s++) assert.equal(rb.losses.get(s), ra.losses.get(s), `loss at step ${s} after resume`);
  assert.ok(Buffer.from(b.model.params.data.buffer).equals(Buffer.from(a.model.params.data.buffer)), 'weights differ after resume');
});
