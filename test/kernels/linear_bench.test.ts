/**
 * The crossover arithmetic of the inference-linear benchmark (src/bench/linear.ts): the sparsity at which a
 * sparse kernel's speedup over dense crosses 1, interpolated linearly between the two measured sparsities around it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossing } from '../../src/bench/linear.js';

test('crossing: linear interpolation between the bracketing points; open-ended outside the sweep', () => {
  assert.equal(crossing([[0.5, 0.5], [0.7, 1.5], [0.9, 4]]), '0.60');
  assert.equal(crossing([[0.5, 0.8], [0.6, 0.9], [0.7, 1.0]]), '0.70');
  assert.equal(crossing([[0.3, 1.2], [0.5, 2]]), '< 0.3');
  assert.equal(crossing([[0.3, 0.2], [0.97, 0.9]]), '> 0.97');
  assert.equal(crossing([]), '-');
});
