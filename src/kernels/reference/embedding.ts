/**
 * Float64 oracle of the embedding kernels (the reference's `BertEmbeddings`): the word +
 * token-type lookup (no position embeddings) and the scatter-add backward of one table with PyTorch's
 * `nn.Embedding(padding_idx)` rule. Shapes and semantics: `Kernels.embeddingForward` / `embeddingBackward` in
 * ../types.ts.
 */
import type { Kernels } from '../types.js';

function need(fn: string, name: string, a: ArrayLike<number>, len: number): void {
  if (a.length < len) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${a.length} elements, needs at least ${len}`);
  }
}

function checkIds(fn: string, name: string, ids: Int32Array, n: number, vocab: number): void {
  for (let r = 0; r < n; r++) {
    if (ids[r] < 0 || ids[r] >= vocab) {
      throw new RangeError(`mosaicbert reference ${fn}: ${name}[${r}] = ${ids[r]} is outside [0, ${vocab}) (row ${r})`);
    }
  }
}

export const embeddingReference: Pick<Kernels, 'embeddingForward' | 'embeddingBackward'> = {
  /**
   * `out[r, :] = wordEmb[ids[r], :] + typeEmb[typeIds[r], :]` (`ids, typeIds: [n]` Int32, `wordEmb: [vocab,
   * hidden]`, `typeEmb: [typeVocab, hidden]`, `out: [n, hidden]` float32). One float32 rounding of an exact sum,
   * so the native kernel matches bit for bit. RangeError on a short buffer or an id outside its table.
   */
  embeddingForward(ids, typeIds, n, hidden, wordEmb, vocab, typeEmb, typeVocab, out) {
    const fn = 'embeddingForward';
    need(fn, 'ids', ids, n); need(fn, 'typeIds', typeIds, n);
    need(fn, 'wordEmb', wordEmb, vocab * hidden); need(fn, 'typeEmb', typeEmb, typeVocab * hidden);
    need(fn, 'out', out, n * hidden);
    checkIds(fn, 'ids', ids, n, vocab);
    checkIds(fn, 'typeIds', typeIds, n, typeVocab);
    for (let r = 0; r < n; r++) {
      const w = ids[r] * hidden, t = typeIds[r] * hidden, o = r * hidden;
      for (let c = 0; c < hidden; c++) out[o + c] = wordEmb[w + c] + typeEmb[t + c];
    }
  },

  /**
   * `dTable[ids[r], :] += dOut[r, :]` for every r with `ids[r] != paddingIdx` (-1: no padding row). Each table row
   * sums its contributions in float64 (starting from its current value, rows in increasing r) and is rounded to
   * float32 once; the native kernel adds in float32 in the same order, so repeated ids differ by a few ulp.
   */
  embeddingBackward(ids, n, hidden, dOut, dTable, vocab, paddingIdx) {
    const fn = 'embeddingBackward';
    need(fn, 'ids', ids, n); need(fn, 'dOut', dOut, n * hidden); need(fn, 'dTable', dTable, vocab * hidden);
    if (!Number.isInteger(paddingIdx) || paddingIdx < -1 || paddingIdx >= vocab) {
      throw new RangeError(`mosaicbert reference ${fn}: argument 'paddingIdx' = ${paddingIdx} is outside [-1, ${vocab})`);
    }
    checkIds(fn, 'ids', ids, n, vocab);
    const rowsOf = new Map<number, number[]>();
    for (let r = 0; r < n; r++) {
      if (ids[r] === paddingIdx) continue;
      const list = rowsOf.get(ids[r]);
      if (list) list.push(r); else rowsOf.set(ids[r], [r]);
    }
    const acc = new Float64Array(hidden);
    for (const [id, rows] of rowsOf) {
      const d = id * hidden;
      for (let c = 0; c < hidden; c++) acc[c] = dTable[d + c];
      for (const r of rows) for (let c = 0; c < hidden; c++) acc[c] += dOut[r * hidden + c];
      for (let c = 0; c < hidden; c++) dTable[d + c] = acc[c];
    }
  },
};
