import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, averageRanks, binaryF1, matthewsCorrcoef, pearson, predictionsFromLogits, spearman } from '../../src/glue/metrics.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('accuracy and binary F1', () => {
  const p = [1, 1, 0, 0, 1, 0], y = [1, 0, 0, 1, 1, 0];
  close(accuracy(p, y), 4 / 6);
  // TP 2, FP 1, FN 1 -> 4 / 6
  close(binaryF1(p, y), 4 / 6);
  close(binaryF1([0, 0], [0, 0]), 0);
  close(binaryF1([1, 1], [0, 0]), 0);
  assert.throws(() => accuracy([1], [1, 0]), /1 predictions for 2 labels/);
  assert.throws(() => accuracy([], []), /no examples/);
});

test('Matthews correlation: hand-computed and degenerate', () => {
  // TP 2, TN 2, FP 1, FN 1: (4 - 1) / sqrt(3*3*3*3) = 3 / 9
  close(matthewsCorrcoef([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0]), 1 / 3);
  // TP 3, TN 1, FP 2, FN 0: (3 - 0) / sqrt(5*3*3*1) = 3 / sqrt(45)
  close(matthewsCorrcoef([1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]), 3 / Math.sqrt(45));
  close(matthewsCorrcoef([0, 1, 0, 1], [0, 1, 0, 1]), 1);
  close(matthewsCorrcoef([1, 0, 1, 0], [0, 1, 0, 1]), -1);
  close(matthewsCorrcoef([1, 1, 1, 1], [0, 1, 0, 1]), 0); // constant predictions
  close(matthewsCorrcoef([0, 1, 0, 1], [1, 1, 1, 1]), 0); // constant labels
});

test('Pearson and Spearman with ties', () => {
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  // x mean 2.5, y mean 2.5: sxy = 1.5*... hand: x=[1,2,3,4] y=[1,3,2,4]: sxy = 2.25+(-0.5*0.5)+(0.5*-0.5)+2.25 = 4, sxx = syy = 5
  close(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8);
  close(pearson([1, 1, 1], [1, 2, 3]), 0);
  assert.deepEqual([...averageRanks([10, 20, 20, 30])], [1, 2.5, 2.5, 4]);
  assert.deepEqual([...averageRanks([3, 1, 3, 3])], [3, 1, 3, 3]);
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4]: sxy = 2.25 + 0 + 0 + 2.25 = 4.5, sxx = 4.5, syy = 5
  close(spearman([0.1, 0.5, 0.5, 0.9], [1, 2, 3, 4]), 4.5 / Math.sqrt(4.5 * 5));
  close(spearman([1, 2, 3, 4], [10, 100, 1000, 1e4]), 1);
  close(spearman([4, 3, 2, 1], [1, 2, 3, 4]), -1);
  close(spearman([2, 2, 2], [1, 2, 3]), 0);
});

test('predictions from logits', () => {
  assert.deepEqual([...predictionsFromLogits([0.1, 0.9, 2, -1, 0.5, 0.5], 3, 2)], [1, 0, 0]);
  assert.deepEqual([...predictionsFromLogits(new Float32Array([1.5, -2]), 2, 1)], [1.5, -2]);
});
