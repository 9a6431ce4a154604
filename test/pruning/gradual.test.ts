/**
 * Gradual pruning inside training (src/pruning/gradual.ts, lr_functions.ts) and its use by `finetune`: the schedule in
 * steps, the recipe's learning-rate functions, masks that survive AdamW and a resume, distillation in the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { loadPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { parseRecipe } from '../../src/pruning/recipe.js';
import { GradualPruner } from '../../src/pruning/gradual.js';
import { recipeLearningRate } from '../../src/pruning/lr_functions.js';
import { finetune } from '../../src/glue/finetune.js';
import { readRunLog, reportCharts } from '../../src/report/html.js';

const cfg = configFromDict({ vocab_size: 30528, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 });

const RECIPE = `
modifiers:
  - !EpochRangeModifier
    start_epoch: 0
    end_epoch: 2
training_modifiers:
  - !LearningRateFunctionModifier
    start_epoch: 0.0
    end_epoch: 0.5
    lr_func: linear
    init_lr: 1e-3
    final_lr: 1e-4
  - !LearningRateFunctionModifier
    start_epoch: 0.5
    end_epoch: 2.0
    lr_func: cyclic_linear
    cycle_epochs: 0.5
    init_lr: 1e-3
    final_lr: 1e-4
  - !OBSPruningModifier
    params: ["re:bert.encoder.layer.*.mlp.wo.weight", "re:bert.encoder.layer.*.attention.output.dense.weight"]
    init_sparsity: 0.5
    final_sparsity: 0.8
    start_epoch: 0.5
    end_epoch: 1.5
    update_frequency: 0.5
    inter_func: cubic
    global_sparsity: True
    mask_type: unstructured
    num_grads: 4
    damp: 1e-7
    fisher_block_size: 8
    grad_sampler_kwargs:
      batch_size: 4
distillation_modifiers:
  - !DistillationModifier
    hardness: 0.5
    temperature: 2.0
`;

test('recipe learning rates: linear warm phase, then cyclic_linear restarting at init_lr every cycle; final_lr after the end', () => {
  const r = parseRecipe(RECIPE);
  const at = (e: number) => recipeLearningRate(r.learningRates, e)!;
  assert.ok(Math.abs(at(0) - 1e-3) < 1e-15);
  assert.ok(Math.abs(at(0.25) - 5.5e-4) < 1e-15);
  for (const start of [0.5, 1.0, 1.5]) {
    assert.ok(Math.abs(at(start) - 1e-3) < 1e-15, `restart at ${start}`);
    assert.ok(Math.abs(at(start + 0.25) - 5.5e-4) < 1e-12, `mid-cycle at ${start + 0.25}`);
  }
  assert.equal(at(2.5), 1e-4);
  assert.equal(recipeLearningRate([], 1), null);
});

test("recipe times in batches ('250ba'): steps counted directly; a recipe mixing epochs and batches is refused naming both", () => {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const ba = parseRecipe(RECIPE.replace('start_epoch: 0.5\n    end_epoch: 1.5\n    update_frequency: 0.5', "start_epoch: '3ba'\n    end_epoch: '9ba'\n    update_frequency: '3ba'")
    .replace(/start_epoch: (0\.0|0\.5|0)\n/g, "start_epoch: '0ba'\n").replace("end_epoch: 0.5\n", "end_epoch: '3ba'\n")
    .replace(/end_epoch: 2(\.0)?\n/g, "end_epoch: '12ba'\n").replace('cycle_epochs: 0.5', "cycle_epochs: '3ba'"), 'ba.yaml');
  assert.equal(ba.timeUnit, 'ba');
  assert.deepEqual(ba.epochRange, { startEpoch: 0, endEpoch: 12 });
  const p = new GradualPruner(m, { recipe: { ...ba, pruning: ba.pruning.map((x) => ({ ...x, kind: 'gmp' as const })) }, stepsPerEpoch: 6, totalSteps: 12 });
  assert.deepEqual(p.schedule.map((s) => s.step), [3, 6, 9]);
  assert.equal(p.learningRate(0), 1e-3);
  assert.ok(Math.abs(p.learningRate(3)! - 1e-3) < 1e-15 && Math.abs(p.learningRate(6)! - 1e-3) < 1e-15, 'cyclic restarts every 3 steps');
  assert.throws(() => parseRecipe(RECIPE.replace("end_epoch: 1.5", "end_epoch: '9ba'"), 'mix.yaml'),
    /mix\.yaml:\d+: training_modifiers\[2\] !OBSPruningModifier: end_epoch: '9ba' is in batches, but .*start_epoch is in epochs/);
  assert.throws(() => parseRecipe(RECIPE.replace("update_frequency: 0.5", "update_frequency: '0ba'"), 'zero.yaml'), /update_frequency: must be > 0/);
});

test('GradualPruner: pruning steps at round(epoch * steps per epoch) with the cubic sparsities; steps past the run warned', () => {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const r = parseRecipe(RECIPE);
  const gmp = { ...r, pruning: r.pruning.map((p) => ({ ...p, kind: 'gmp' as const })) };
  const p = new GradualPruner(m, { recipe: gmp, stepsPerEpoch: 6, totalSteps: 12 });
  assert.deepEqual(p.schedule.map((s) => [s.step, s.epoch]), [[3, 0.5], [6, 1], [9, 1.5]]);
  const cubic = (x: number) => 0.5 + 0.3 * (1 - (1 - x) ** 3);
  p.schedule.forEach((s, i) => assert.ok(Math.abs(s.sparsity - cubic(i / 2)) < 1e-12));
  assert.equal(p.warnings.length, 0);
  assert.equal(p.beforeStep(2).length, 0);
  assert.equal(p.sparsity(), 0);
  const ev = p.beforeStep(3);
  assert.equal(ev.length, 1);
  const n = m.encoder.linears().filter((l) => /mlp\.wo|attention\.output/.test(l.name)).reduce((a, l) => a + l.weight.length, 0);
  assert.equal(ev[0].achieved, Math.round(0.5 * n) / n);
  assert.equal(p.sparsity(), ev[0].achieved);
  const short = new GradualPruner(m, { recipe: gmp, stepsPerEpoch: 6, totalSteps: 8 });
  assert.equal(short.schedule.length, 2);
  assert.match(short.warnings[0], /epoch 1.5 \(step 9\) is beyond the run's 8 steps.*final sparsity 0.800 is not reached/);
  // Pruning times closer than a step (end a hair after start + 2f, as rounded epochs in a YAML give) prune once, to the later target.
  const close = { ...gmp, pruning: [{ ...gmp.pruning[0], startEpoch: 0.5, updateFrequency: 0.5, endEpoch: 1.5 + 2e-8 }] };
  assert.deepEqual(new GradualPruner(m, { recipe: close, stepsPerEpoch: 6, totalSteps: 12 }).schedule.map((x) => [x.step, x.sparsity]),
    [[3, 0.5], [6, cubic(0.5 / (1 + 2e-8))], [9, 0.8]]);
  assert.throws(() => new GradualPruner(m, { recipe: { ...gmp, pruning: [{ ...gmp.pruning[0], params: ['re:nothing.*'] }] },
    stepsPerEpoch: 6, totalSteps: 12 }), /pruning modifier 0: params: 're:nothing\.\*' matches no weight/);
});

const GLUE = '../shared/data/glue';
const skip = existsSync(join(GLUE, 'SST-2/train.tsv')) ? false : 'no ../shared GLUE data';

test('finetune with an oBERT recipe and a teacher: sparsity on schedule, masks kept through AdamW and a resume, KD logged', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'mb-gradual-'));
  savePretrained(new MosaicBertForMaskedLM({ ...cfg, hidden_dropout_prob: 0.1 }, { initSeed: 4 }), join(root, 'mlm'));
  savePretrained(new MosaicBertForSequenceClassification({ ...cfg, num_labels: 2 }, { initSeed: 9 }), join(root, 'teacher'));
  const recipePath = join(root, 'recipe.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(recipePath, RECIPE);
  const base = { task: 'sst2', model: join(root, 'mlm'), dataDir: GLUE, maxTrainExamples: 48, maxEvalExamples: 16,
    hparams: { eval_interval: 4, batch_size: 8 }, mnliCheckpoint: null, warn: () => {}, recipe: recipePath,
    teacher: join(root, 'teacher'), saveInterval: 2, keepCheckpoints: 10, keepCheckpointsAtEnd: true };
  const a = await finetune({ ...base, outDir: join(root, 'a') });
  assert.equal(a.total_steps, 12, 'EpochRangeModifier: 2 epochs of 6 steps');
  assert.deepEqual(a.pruning!.events.map((e) => e.step), [3, 6, 9]);
  assert.deepEqual(a.distillation && [a.distillation.hardness, a.distillation.temperature], [0.5, 2]);
  const { model, info } = loadPretrained(join(root, 'a', 'model'), { warn: () => {} });
  const targets = model.linears().filter((l) => /mlp\.wo|attention\.output/.test(l.name));
  const n = targets.reduce((s, l) => s + l.weight.length, 0);
  const zeros = targets.reduce((s, l) => s + l.weight.filter((v) => v === 0).length, 0);
  assert.equal(zeros, Math.round(0.8 * n), 'the saved model has exactly the final sparsity (pruned weights stayed 0 through 3 AdamW steps)');
  assert.equal(a.pruning!.final_sparsity, zeros / n);
  const enc = model.encoder.linears(), encN = enc.reduce((s, l) => s + l.weight.length, 0);
  assert.equal(info.sparsity, zeros / encN, "loadPretrained reports the encoder's sparsity (zeros over all its projections)");
  const others = model.linears().filter((l) => /Wqkv|gated/.test(l.name)).flatMap((l) => [...l.weight]);
  assert.ok(others.every((v) => v !== 0), 'weights outside params are not pruned');
  const log = readRunLog(join(root, 'a', 'log.jsonl'));
  const lines = readFileSync(join(root, 'a', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.type === 'prune').length, 3);
  const steps = lines.filter((l) => l.type === 'step');
  assert.ok(steps.every((s) => s.distill_loss > 0 && s.task_loss > 0 && Math.abs(s.loss - 0.5 * (s.task_loss + s.distill_loss)) < 1e-9));
  assert.ok(Math.abs(steps[3].lr - 1e-3) < 1e-15 && Math.abs(steps[6].lr - 1e-3) < 1e-15, 'the LR restarts at each pruning step');
  assert.ok(log.steps.length === 12);
  const charts = reportCharts(log).map((c) => c.title);
  assert.ok(charts.includes('loss terms (distillation)') && charts.includes('sparsity of the pruned weights (%)'), charts.join(', '));
  // An interrupted run resumed after the first pruning step ends bit-identical (masks come back from the checkpoint).
  assert.ok(existsSync(join(root, 'a', 'checkpoints', 'ba4', 'masks.safetensors')));
  cpSync(join(root, 'a', 'checkpoints', 'ba4'), join(root, 'b', 'checkpoints', 'ba4'), { recursive: true });
  const b = await finetune({ ...base, outDir: join(root, 'b'), resume: true });
  assert.ok(readFileSync(join(root, 'a', 'model', 'model.safetensors')).equals(readFileSync(join(root, 'b', 'model', 'model.safetensors'))),
    'a resumed gradual-pruning run differs from the uninterrupted one');
  assert.deepEqual(b.pruning!.events.map((e) => e.step), [6, 9]);
});
