/** unpadBatch on its own: indices, cu_seqlens, gathered ids, and every malformed batch named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { padRows, unpadBatch } from '../../src/model/batch.js';

test('unpadBatch: row-major indices, cu_seqlens, gathered ids and type ids; padRows inverts it', () => {
  const input_ids = Int32Array.from([101, 7, 8, 102, 0, 101, 9, 102, 0, 0, 101, 5, 6, 4, 102]);
  const attention_mask = Int32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  const token_type_ids = Int32Array.from([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  const u = unpadBatch({ batch: 3, seqlen: 5, input_ids, attention_mask, token_type_ids });
  assert.equal(u.nnz, 12);
  assert.deepEqual([...u.cuSeqlens], [0, 4, 7, 12]);
  assert.deepEqual([...u.indices], [0, 1, 2, 3, 5, 6, 7, 10, 11, 12, 13, 14]);
  assert.deepEqual([...u.ids], [101, 7, 8, 102, 101, 9, 102, 101, 5, 6, 4, 102]);
  assert.deepEqual([...u.typeIds], [0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
  const rows = Float32Array.from({ length: 12 * 2 }, (_, i) => i + 1);
  const padded = padRows(rows, u, 2);
  assert.equal(padded.length, 3 * 5 * 2);
  assert.deepEqual([...padded.subarray(8, 10)], [0, 0]);          // (0, 4) is padding
  assert.deepEqual([...padded.subarray(10, 12)], [9, 10]);        // (1, 0) is nnz row 4
});

test('unpadBatch: defaults (no mask: every token valid; no type ids: zeros)', () => {
  const u = unpadBatch({ batch: 2, seqlen: 2, input_ids: Int32Array.from([1, 2, 3, 4]) });
  assert.equal(u.nnz, 4);
  assert.deepEqual([...u.cuSeqlens], [0, 2, 4]);
  assert.deepEqual([...u.typeIds], [0, 0, 0, 0]);
});

test('unpadBatch: an empty row gives an empty sequence (cu_seqlens repeats)', () => {
  const u = unpadBatch({ batch: 2, seqlen: 2, input_ids: Int32Array.from([1, 2, 0, 0]),
    attention_mask: Int32Array.from([1, 1, 0, 0]) });
  assert.deepEqual([...u.cuSeqlens], [0, 2, 2]);
});

test('unpadBatch: bad batches are errors naming the row, position or field', () => {
  const ids = Int32Array.from([1, 2, 3, 4]);
  assert.throws(() => unpadBatch({ batch: 2, seqlen: 2, input_ids: ids, attention_mask: Int32Array.from([1, 0, 0, 1]) }),
    /attention_mask row 1 is not right-padded \(1 at position 1 after a 0\)/);
  assert.throws(() => unpadBatch({ batch: 2, seqlen: 2, input_ids: ids, attention_mask: Int32Array.from([1, 2, 1, 1]) }),
    /attention_mask\[0\]\[1\] = 2; the mask must be 0\/1/);
  assert.throws(() => unpadBatch({ batch: 2, seqlen: 3, input_ids: ids }), /input_ids has 4 elements, expected 2x3 = 6/);
  assert.throws(() => unpadBatch({ batch: 0, seqlen: 3, input_ids: ids }), /must be positive integers/);
});
