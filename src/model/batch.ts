/**
 * Unpadding (the reference's `bert_padding.unpad_input`): from a right-padded batch
 * `[B, S]` and its 0/1 attention mask, the flat row-major positions of the valid tokens (`indices`), `cu_seqlens`
 * and the gathered token and type ids. Every later layer works on the `nnz` valid rows only.
 */

/** A padded batch as the tokenizer / collator produces it; all `[B * S]` row-major Int32Arrays. */
export interface PaddedBatch {
  batch: number;
  seqlen: number;
  input_ids: Int32Array;
  /** 0/1, right padding (a row is 1...1 0...0); defaults to all ones. */
  attention_mask?: Int32Array;
  /** Defaults to all zeros. */
  token_type_ids?: Int32Array;
}

/** The unpadded view of a batch. */
export interface UnpaddedBatch {
  batch: number;
  seqlen: number;
  /** Number of valid tokens. */
  nnz: number;
  /** `[nnz]` flat positions `b * S + s` of the valid tokens, row-major. */
  indices: Int32Array;
  /** `[B + 1]`: `[0, l0, l0 + l1, ...]`. */
  cuSeqlens: Int32Array;
  /** `[nnz]` token ids and token type ids of the valid tokens. */
  ids: Int32Array;
  typeIds: Int32Array;
}

/**
 * Unpads a batch. Throws an Error naming the row and position when the mask is not 0/1, when a row is not
 * right-padded (ALiBi distances are token distances only under right padding, as in the reference), or when the
 * buffers are shorter than `B * S`.
 */
export function unpadBatch(b: PaddedBatch): UnpaddedBatch {
  const { batch: B, seqlen: S } = b;
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(S) || S < 1) {
    throw new Error(`batch: batch (${B}) and seqlen (${S}) must be positive integers`);
  }
  const n = B * S;
  for (const [name, a] of [['input_ids', b.input_ids], ['attention_mask', b.attention_mask],
    ['token_type_ids', b.token_type_ids]] as const) {
    if (a && a.length < n) throw new Error(`batch: ${name} has ${a.length} elements, expected ${B}x${S} = ${n}`);
  }
  const mask = b.attention_mask;
  const cu = new Int32Array(B + 1);
  for (let r = 0; r < B; r++) {
    let len = S;
    if (mask) {
      len = 0;
      while (len < S && mask[r * S + len] === 1) len++;
      for (let s = len; s < S; s++) {
        const m = mask[r * S + s];
        if (m === 1) throw new Error(`batch: attention_mask row ${r} is not right-padded (1 at position ${s} after a 0); ` +
          'MosaicBERT expects [CLS] ... [SEP] [PAD]...');
        if (m !== 0) throw new Error(`batch: attention_mask[${r}][${s}] = ${m}; the mask must be 0/1`);
      }
    }
    cu[r + 1] = cu[r] + len;
  }
  const nnz = cu[B];
  const indices = new Int32Array(nnz), ids = new Int32Array(nnz), typeIds = new Int32Array(nnz);
  for (let r = 0, j = 0; r < B; r++) {
    for (let s = 0; s < cu[r + 1] - cu[r]; s++, j++) {
      const p = r * S + s;
      indices[j] = p;
      ids[j] = b.input_ids[p];
      typeIds[j] = b.token_type_ids ? b.token_type_ids[p] : 0;
    }
  }
  return { batch: B, seqlen: S, nnz, indices, cuSeqlens: cu, ids, typeIds };
}

/** Scatters `[nnz, cols]` rows back to a zero-filled `[B, S, cols]` tensor (the reference's `pad_input`). */
export function padRows(rows: Float32Array, u: UnpaddedBatch, cols: number): Float32Array {
  const out = new Float32Array(u.batch * u.seqlen * cols);
  for (let j = 0; j < u.nnz; j++) out.set(rows.subarray(j * cols, (j + 1) * cols), u.indices[j] * cols);
  return out;
}
