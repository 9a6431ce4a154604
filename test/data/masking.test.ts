import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskTokens } from '../../src/data/masking.js';
import { philoxBlock } from '../../src/data/philox_block.js';
import { philox4x32_10 } from '../../src/kernels/reference/philox.js';
import { rng } from '../helpers.js';

const B = 64, S = 128;

/** A padded batch: [CLS] random ids [SEP] then [PAD], with a few [UNK] and [MASK] in the text. */
function batch(seed: number): { ids: Int32Array; mask: Int32Array } {
  const r = rng(seed);
  const ids = new Int32Array(B * S), mask = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    const len = 3 + Math.floor(r() * (S - 3));
    for (let c = 0; c < len; c++) {
      const i = b * S + c;
      mask[i] = 1;
      ids[i] = c === 0 ? 101 : c === len - 1 ? 102 : r() < 0.02 ? 100 : r() < 0.02 ? 103 : 1000 + Math.floor(r() * 29000);
    }
  }
  return { ids, mask };
}

test('allocation-free Philox equals the reference generator', () => {
  const out = new Uint32Array(4);
  for (const c of [[0, 0, 0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0], [5, 7, 11, 13, 17, 19]]) {
    philoxBlock(c[0], c[1], c[2], c[3], c[4], c[5], out);
    assert.deepEqual(Array.from(out), philox4x32_10(c[0], c[1], c[2], c[3], c[4], c[5]));
  }
});

test('rates: p of maskable tokens selected; 80/10/10 among them; specials and padding never', () => {
  for (const p of [0.3, 0.15]) {
    let maskable = 0, selected = 0, toMask = 0, random = 0, kept = 0;
    for (let step = 0; step < 8; step++) {
      const { ids, mask } = batch(step);
      const m = maskTokens(ids, S, step, { mlm_probability: p, seed: 17 }, mask);
      for (let i = 0; i < ids.length; i++) {
        const special = [0, 100, 101, 102, 103].includes(ids[i]) || mask[i] === 0;
        if (special) {
          assert.equal(m.labels[i], -100);
          assert.equal(m.input_ids[i], ids[i]);
          continue;
        }
        maskable++;
        if (m.labels[i] === -100) { assert.equal(m.input_ids[i], ids[i]); continue; }
        selected++;
        assert.equal(m.labels[i], ids[i]);
        if (m.input_ids[i] === 103) toMask++;
        else if (m.input_ids[i] === ids[i]) kept++;
        else random++;
        assert.ok(m.input_ids[i] >= 0 && m.input_ids[i] < 30522);
      }
    }
    // Binomial standard errors: selection sqrt(p(1-p)/n) ~ 0.001 with n ~ 33k; allow 5 sigma.
    const rate = selected / maskable;
    assert.ok(Math.abs(rate - p) < 5 * Math.sqrt(p * (1 - p) / maskable), `p=${p}: selected ${rate}`);
    const se = (q: number) => 5 * Math.sqrt(q * (1 - q) / selected);
    assert.ok(Math.abs(toMask / selected - 0.8) < se(0.8), `[MASK] share ${toMask / selected}`);
    // A random replacement can draw the original id (1 in 30522): counted as kept.
    assert.ok(Math.abs(random / selected - 0.1) < se(0.1), `random share ${random / selected}`);
    assert.ok(Math.abs(kept / selected - 0.1) < se(0.1), `kept share ${kept / selected}`);
  }
});

test('random replacements are uniform over [0, 30522), not the padded 30528', () => {
  const ids = new Int32Array(B * S).fill(5000);
  const counts = new Array(10).fill(0);
  let n = 0;
  for (let step = 0; step < 40; step++) {
    const m = maskTokens(ids, S, step, { mlm_probability: 1, seed: 1 });
    for (let i = 0; i < ids.length; i++) {
      const v = m.input_ids[i];
      if (v !== 103 && v !== 5000) {
        assert.ok(v >= 0 && v < 30522);
        counts[Math.floor(v / 3052.2)]++;
        n++;
      }
    }
  }
  for (const c of counts) assert.ok(Math.abs(c - n / 10) < 5 * Math.sqrt(n / 10), `decile counts ${counts}`);
});

test('reproducible per (seed, step, row, col); fresh across steps and seeds', () => {
  const { ids, mask } = batch(1);
  const a = maskTokens(ids, S, 3, { mlm_probability: 0.3, seed: 17 }, mask);
  assert.deepEqual(maskTokens(ids, S, 3, { mlm_probability: 0.3, seed: 17 }, mask), a);
  assert.notDeepEqual(maskTokens(ids, S, 4, { mlm_probability: 0.3, seed: 17 }, mask).labels, a.labels);
  assert.notDeepEqual(maskTokens(ids, S, 3, { mlm_probability: 0.3, seed: 18 }, mask).labels, a.labels);
  // Independent of padding width: the first 64 columns of a row mask the same when S changes.
  const narrow = new Int32Array(B * 64), narrowMask = new Int32Array(B * 64);
  for (let b = 0; b < B; b++) for (let c = 0; c < 64; c++) {
    narrow[b * 64 + c] = ids[b * S + c]; narrowMask[b * 64 + c] = mask[b * S + c];
  }
  const n = maskTokens(narrow, 64, 3, { mlm_probability: 0.3, seed: 17 }, narrowMask);
  for (let b = 0; b < B; b++) for (let c = 0; c < 64; c++) assert.equal(n.labels[b * 64 + c], a.labels[b * S + c]);
  assert.throws(() => maskTokens(ids, S, 0, { mlm_probability: 1.5, seed: 1 }), RangeError);
});
