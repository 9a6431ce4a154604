import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/kernels/native.js';
import { philox4x32_10, philoxUniform } from '../../src/kernels/reference/philox.js';

test('philox4x32-10 matches the Random123 known-answer vectors', () => {
  assert.deepEqual(philox4x32_10(0, 0, 0, 0, 0, 0), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  assert.deepEqual(philox4x32_10(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  assert.deepEqual(philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

test('native philoxUniform is bit-identical to the TypeScript generator, large indices included', () => {
  for (const [seed, stream, start] of [[0, 0, 0], [17, 3, 1000], [2 ** 40 + 5, 2 ** 33 + 1, 2 ** 45 + 3]]) {
    const out = new Float32Array(37);
    native().philoxUniform(out, seed, stream, start);
    for (let i = 0; i < out.length; i++) assert.equal(out[i], philoxUniform(seed, stream, start + i), `i=${i}`);
  }
});
