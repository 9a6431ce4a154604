/**
 * The arithmetic and row selection of `bench serve` (src/bench/serve_variants.ts): the FLOPs of a request against
 * the training MFU formula, `--variants` parsing and its errors, and the goal check of issue 14.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goalChecks, parseServeVariants, requestFlops, serveVariant, SERVE_VARIANT_IDS, type GoalRow } from '../../src/bench/serve_variants.js';
import { trainingFlops } from '../../src/train/metrics.js';
import { configFromDict } from '../../src/model/config.js';

test('requestFlops is the forward third of the training formula without the MLM head (base: 3.62 GFLOP at 16 tokens)', () => {
  const cfg = configFromDict({ hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 });
  for (const n of [16, 128]) {
    // trainingFlops = 3 x forward, plus the head on numTargets rows: 0 targets leaves the encoder only.
    const expected = trainingFlops(cfg, Int32Array.from([0, n]), 0) / 3;
    assert.ok(Math.abs(requestFlops(cfg, n) - expected) <= 1e-9 * expected, `n=${n}: ${requestFlops(cfg, n)} vs ${expected}`);
  }
  // By hand: 2 x 16 x 12 x (4 x 768^2 + 3 x 3072 x 768) + 4 x 16^2 x 12 x 768 = 3,623,878,656 + 9,437,184.
  assert.equal(requestFlops(cfg, 16), 3_623_878_656 + 9_437_184);
});

test('--variants: ids in order without repeats, all, and an error naming the flag and the unknown id', () => {
  assert.deepEqual(parseServeVariants('peer,q8, peer'), ['peer', 'q8']);
  assert.deepEqual(parseServeVariants('all'), [...SERVE_VARIANT_IDS]);
  assert.throws(() => parseServeVariants('batched,int4'), /--variants: unknown row 'int4'/);
  assert.throws(() => parseServeVariants(' , '), /--variants/);
  assert.deepEqual(serveVariant('sparse-q8', 2048).flags, ['--dtype', 'q8']);
  assert.equal(serveVariant('sparse-q8', 2048).model, 'sparse');
  assert.deepEqual(serveVariant('batched-4096', 2048).flags, ['--max-batch-tokens', '4096']);
  assert.deepEqual(serveVariant('batched-nowait', 2048).flags, ['--max-batch-wait-ms', '0']);
  assert.deepEqual(serveVariant('batched-inproc', 2048).flags, ['--no-worker']);
});

test('goal check: met only with >= 2x the requests/s and a lower p99, per pair and length present', () => {
  const row = (id: GoalRow['id'], tokens: number, rps: number, p99: number): GoalRow => ({ id, tokens, connections: 32, rps, p99 });
  const rows = [row('batched', 16, 45, 1000), row('peer', 16, 33.3, 3900), row('q8', 16, 70, 500), row('peer-q8', 16, 35, 400),
    row('sparse', 16, 80, 300), row('batched', 128, 11.2, 100), row('peer', 128, 5.6, 200), { ...row('peer', 128, 99, 1), connections: 8 }];
  const got = goalChecks(rows, 32).map((g) => [g.ours, g.peer, g.tokens, Number(g.ratio.toFixed(3)), g.met]);
  assert.deepEqual(got, [
    ['batched', 'peer', 16, 1.351, false],      // 1.35x
    ['batched', 'peer', 128, 2, true],          // exactly 2x, p99 below
    ['q8', 'peer-q8', 16, 2, false],            // 2x but p99 500 >= 400
    ['sparse', 'peer', 16, 2.402, true],
  ]);
});
