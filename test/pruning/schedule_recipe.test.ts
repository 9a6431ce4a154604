/**
 * The gradual schedule (cubic, ../shared/docs/obert.md §2.2's table), the recipe files (the four published SparseML
 * recipes load; a bad field names file, line, modifier and key; what cannot apply is warned about), and the
 * selection of target weights by the recipes' `params` (classic-BERT names mapped onto MosaicBERT's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { pruningSteps, scheduleTable, sparsityAt } from '../../src/pruning/schedule.js';
import { loadRecipe, parseRecipe } from '../../src/pruning/recipe.js';
import { selectTargets, weightAliases, DEFAULT_PRUNE_PARAMS_BERT } from '../../src/pruning/targets.js';
import { BertForMaskedLM, MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { configFromDict } from '../../src/model/config.js';
import { bertConfigFromDict } from '../../src/model/bert_config.js';
import { sharedDir } from '../helpers.js';

test('schedule: cubic 70 -> 90% at epochs 2, 6, ..., 26 (the recipes), and 30 -> 80%', () => {
  const s = { initSparsity: 0.7, finalSparsity: 0.9, start: 2, end: 26, updateFrequency: 4, interFunc: 'cubic' as const };
  const table = scheduleTable(s);
  assert.deepEqual(table.map(([t]) => t), [2, 6, 10, 14, 18, 22, 26]);
  // Printed to two decimals in per cent, as the spec's table.
  assert.deepEqual(table.map(([, v]) => (100 * v).toFixed(2)), ['70.00', '78.43', '84.07', '87.50', '89.26', '89.91', '90.00']);
  const s2 = { ...s, initSparsity: 0.3, finalSparsity: 0.8 };
  assert.deepEqual(scheduleTable(s2).map(([, v]) => (100 * v).toFixed(2)), ['30.00', '51.06', '65.19', '73.75', '78.15', '79.77', '80.00']);
  assert.equal(sparsityAt(s, 0), 0.7);
  assert.equal(sparsityAt(s, 40), 0.9);
  assert.equal(sparsityAt({ ...s, interFunc: 'linear' }, 14), 0.8);
  // Upstream: every 0.25 epochs from 0 to 2.75 (12 steps; floating-point steps do not add a spurious one).
  assert.equal(pruningSteps({ start: 0, end: 2.75, updateFrequency: 0.25 }).length, 12);
  assert.throws(() => pruningSteps({ start: 0, end: 1, updateFrequency: 0 }), /update_frequency/);
});

test('recipes: the four published SparseML recipe files load', (t) => {
  const shared = sharedDir();
  if (!shared) { t.skip('../shared not present'); return; }
  const dir = join(shared, 'reference', 'sparseml-recipes');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  assert.equal(files.length, 4);
  const r = Object.fromEntries(files.map((f) => [f, loadRecipe(join(dir, f))]));
  const squad = r['30epochs_4block90_squad.yaml'];
  assert.equal(squad.pruning.length, 1);
  assert.deepEqual({ ...squad.pruning[0], params: squad.pruning[0].params.length }, {
    kind: 'obs', params: 6, initSparsity: 0.7, finalSparsity: 0.9, startEpoch: 2, endEpoch: 26, updateFrequency: 4,
    interFunc: 'cubic', globalSparsity: true, maskType: 'block4', numGrads: 1024, damp: 1e-7, fisherBlockSize: 32,
    gradBatchSize: 8, numRecomputations: 1,
  });
  assert.deepEqual(squad.learningRates.map((l) => [l.lrFunc, l.initLr, l.finalLr, l.cycleEpochs]),
    [['linear', 8e-5, 8e-6, null], ['cyclic_linear', 8e-5, 8e-6, 4]]);
  assert.deepEqual(squad.distillation, { hardness: 1, temperature: 2, outputKeys: ['start_logits', 'end_logits'] });
  assert.match(squad.warnings.join('\n'), /30epochs_4block90_squad\.yaml:\d+: distillation_modifiers\[0\] !DistillationModifier: distill_output_keys start_logits, end_logits/);
  const qqp = r['30epochs_unstructured90_qqp.yaml'].pruning[0];
  assert.deepEqual([qqp.maskType, qqp.fisherBlockSize, qqp.gradBatchSize], ['unstructured', 50, 16]);
  const mlm = r['3epochs_unstructured90_mlm.yaml'];
  assert.deepEqual([mlm.pruning[0].startEpoch, mlm.pruning[0].endEpoch, mlm.pruning[0].updateFrequency, mlm.distillation?.temperature], [0, 2.75, 0.25, 5.5]);
  const transfer = r['8epochs_sparse_transfer_qqp.yaml'];
  assert.equal(transfer.pruning.length, 0);
  assert.equal(transfer.constantPruning[0].params.length, 6);
  assert.deepEqual(transfer.epochRange, { startEpoch: 0, endEpoch: 8 });
  assert.deepEqual(transfer.warnings, []);
});

test('recipes: a bad field names the file, line, modifier and key; unknown tags and ignored keys are warnings', () => {
  const obs = (extra: string) => `pruning_modifiers:\n  - !OBSPruningModifier\n    params: ["re:x"]\n    init_sparsity: 0.7\n` +
    `    final_sparsity: 0.9\n    start_epoch: 0\n    end_epoch: 3\n    update_frequency: 1\n${extra}`;
  assert.throws(() => parseRecipe(obs('    damp: -1\n'), 'r.yaml'), /^RecipeError: r\.yaml:9: pruning_modifiers\[0\] !OBSPruningModifier: damp: /);
  assert.throws(() => parseRecipe(obs('    mask_type: block8\n'), 'r.yaml'), /r\.yaml:9: .*!OBSPruningModifier: mask_type/);
  assert.throws(() => parseRecipe(obs('    fisher_blok_size: 50\n'), 'r.yaml'), /r\.yaml:9: .*fisher_blok_size: unknown key/);
  assert.throws(() => parseRecipe(obs('    mask_type: block4\n    fisher_block_size: 50\n'), 'r.yaml'), /r\.yaml:10: .*fisher_block_size: 50 must be a multiple of 4/);
  assert.throws(() => parseRecipe(obs('').replace('init_sparsity: 0.7', 'init_sparsity: seventy'), 'r.yaml'), /r\.yaml:4: .*init_sparsity/);
  assert.throws(() => parseRecipe('modifiers: [\n', 'broken.yaml'), /^RecipeError: broken\.yaml:\d+: /);
  const ok = parseRecipe(obs('    leave_enabled: True\n') + '  - !QuantizationModifier\n    start_epoch: 0\n', 'r.yaml');
  assert.equal(ok.pruning.length, 1);
  assert.deepEqual(ok.warnings, [
    'r.yaml:10: !QuantizationModifier is not a modifier this package applies; ignored',
    "r.yaml:9: pruning_modifiers[0] !OBSPruningModifier: 'leave_enabled' is not applied by this package; ignored",
  ]);
});

const tiny = { num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, vocab_size: 100 };

test('targets: defaults, and the recipes\' classic-BERT regexes select the same projections on MosaicBERT', () => {
  const mosaic = new MosaicBertForMaskedLM(configFromDict(tiny));
  const bert = new BertForMaskedLM(bertConfigFromDict({ ...tiny, max_position_embeddings: 64 }));
  const names = (ls: { name: string }[]) => ls.map((l) => l.name.replace(/^bert\.encoder\.layer\./, ''));
  const onMosaic = selectTargets(mosaic.linears(), DEFAULT_PRUNE_PARAMS_BERT);
  assert.deepEqual(names(onMosaic.linears), ['0.attention.self.Wqkv', '0.attention.output.dense', '0.mlp.gated_layers', '0.mlp.wo',
    '1.attention.self.Wqkv', '1.attention.output.dense', '1.mlp.gated_layers', '1.mlp.wo']);
  assert.deepEqual(onMosaic.warnings, []);
  const onBert = selectTargets(bert.linears(), DEFAULT_PRUNE_PARAMS_BERT);
  assert.deepEqual(names(onBert.linears), ['0.attention.self.qkv', '0.attention.output.dense', '0.intermediate.dense', '0.output.dense',
    '1.attention.self.qkv', '1.attention.output.dense', '1.intermediate.dense', '1.output.dense']);
  // The head (cls.predictions.*) stays dense; q alone selects the fused projection with a warning.
  const q = selectTargets(mosaic.linears(), ['re:bert.encoder.layer.1.attention.self.query.weight']);
  assert.deepEqual(names(q.linears), ['1.attention.self.Wqkv']);
  assert.match(q.warnings[0], /Wqkv: q, k and v are one fused projection; only query was named/);
  assert.deepEqual(weightAliases({ name: 'bert.encoder.layer.3.mlp.wo' }), ['bert.encoder.layer.3.mlp.wo.weight', 'bert.encoder.layer.3.output.dense.weight']);
  assert.throws(() => selectTargets(mosaic.linears(), ['re:bert.encoder.layer.*.nothing.weight', 'cls.x']),
    /params: 're:bert\.encoder\.layer\.\*\.nothing\.weight', 'cls\.x' match no weight/);
  assert.throws(() => selectTargets(mosaic.linears(), ['re:(']), /not a valid regular expression/);
});
