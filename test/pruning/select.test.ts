/**
 * Global selection over several weights: the count is exactly round(s·N) with ties broken by the global index
 * (targets in order, then position), already-pruned units stay pruned, and the per-layer variant counts per target;
 * 1x4 groups expand to 4 consecutive elements.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pruningKernels, referencePruningKernels } from '../../src/pruning/kernels.js';
import { pruneCount, selectKeep } from '../../src/pruning/select.js';
import { compressGroups, expandGroups } from '../../src/pruning/masks.js';
import { magnitudeScores } from '../../src/pruning/scores.js';

test('selectKeep: exact global count, ties by global index, -Infinity first, per-layer counts', () => {
  for (const k of [pruningKernels(), referencePruningKernels]) {
    // Every score is 1 except two already pruned: 7 of 10 (s = 0.7) = the 2 pruned + the first 5 ties in global order.
    const a = new Float32Array([1, 1, -Infinity, 1]), b = new Float32Array([1, 1, 1, 1, -Infinity, 1]);
    const [ka, kb] = selectKeep(k, [a, b], 0.7, true);
    assert.deepEqual([...ka, ...kb], [0, 0, 0, 0, 0, 0, 1, 1, 0, 1], k.name);
    // A target below what is already pruned keeps it pruned (masks only shrink).
    const [la, lb] = selectKeep(k, [a, b], 0.1, true);
    assert.deepEqual([...la, ...lb], [1, 1, 0, 1, 1, 1, 1, 1, 0, 1]);
    // Per layer: round(0.5·4) = 2 of a, round(0.5·6) = 3 of b.
    const [pa, pb] = selectKeep(k, [new Float32Array([4, 3, 2, 1]), new Float32Array([6, 5, 4, 3, 2, 1])], 0.5, false);
    assert.deepEqual([...pa], [1, 1, 0, 0]);
    assert.deepEqual([...pb], [1, 1, 1, 0, 0, 0]);
  }
  assert.equal(pruneCount(0.9, 85_000_001, 0), 76_500_001);
  assert.throws(() => pruneCount(1.1, 10, 0), /sparsity must be in \[0, 1\]/);
});

test('block4: magnitude scores per 1x4 group; group masks expand to 4 consecutive weights', () => {
  const w = new Float32Array([1, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 3]);
  const s = new Float32Array(3);
  magnitudeScores(w, null, 'block4', s);
  assert.deepEqual([...s], [1, 1, 9]);
  const mask = new Uint8Array(12).fill(1); mask.fill(0, 4, 8);
  magnitudeScores(w, mask, 'block4', s);
  assert.deepEqual([...s], [1, -Infinity, 9]);
  assert.deepEqual([...expandGroups(new Uint8Array([1, 0, 1]), 12)], [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
  assert.deepEqual([...compressGroups(mask)], [1, 0, 1]);
});
