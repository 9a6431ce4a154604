/**
 * `mosaicbert prune` end to end on a tiny MosaicBERT: gmp and obert (gradients from a small text corpus prepared on
 * the fly), the saved folder reloads with the pruned weights at 0, pruning.json gives the per-layer sparsity, and a
 * user error prints one line without a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { configFromDict } from '../../src/model/config.js';
import { fromPretrained, savePretrained } from '../../src/interop/pretrained.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'mosaicbert.js');

function run(args: string[], cwd: string) {
  return spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, MOSAICBERT_NUM_THREADS: '1' } });
}

test('mosaicbert prune: gmp and obert save a model with zeros and pruning.json; user errors have no stack', () => {
  const d = mkdtempSync(join(tmpdir(), 'mb-prune-'));
  try {
    const m = new MosaicBertForMaskedLM(configFromDict({ num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2,
      intermediate_size: 64 }));
    savePretrained(m, join(d, 'dense'));
    const lines = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} talks about the river, the city and the ${i % 7} bridges of the old town.`);
    writeFileSync(join(d, 'corpus.txt'), lines.join('\n') + '\n');
    for (const method of ['gmp', 'obert']) {
      const out = join(d, method);
      const p = run(['prune', '--model', join(d, 'dense'), '--sparsity', '0.75', '--method', method, '--block-size', '8',
        '--num-grads', '3', '--grad-batch-size', '2', '--damp', '1e-5', '--max-seq-len', '32', '--data', join(d, 'corpus.txt'),
        '--out', out, '--no-progress'], d);
      assert.equal(p.status, 0, p.stderr);
      assert.match(p.stderr, /total: \d+ of \d+ weights pruned \(75\.00%\)/);
      const info = JSON.parse(readFileSync(join(out, 'pruning.json'), 'utf8'));
      assert.equal(info.method, method);
      assert.equal(info.layers.length, 4);
      assert.equal(info.pruned, Math.round(0.75 * info.numel));
      if (method === 'obert') assert.equal(info.gradient_passes, 3);
      const back = fromPretrained(out, { head: 'mlm' });
      const wo = back.linears().find((l) => l.name.endsWith('mlp.wo'))!;
      const layer = info.layers.find((l: { name: string }) => l.name.endsWith('mlp.wo.weight'));
      assert.equal(wo.sparsity(), layer.sparsity, 'zeros in the saved weights = the recorded sparsity');
    }
    const bad = run(['prune', '--model', join(d, 'dense'), '--sparsity', '1.5', '--out', join(d, 'x')], d);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.trim(), "mosaicbert: --sparsity must be a number in [0, 1], got '1.5'");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
