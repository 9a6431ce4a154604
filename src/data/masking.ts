/**
 * MLM masking, as Hugging Face `DataCollatorForLanguageModeling(mlm=True, mlm_probability=p)`: every non-special
 * token is selected with probability p; of the selected, 80% become [MASK], 10% a random id uniform in
 * [0, vocab_size) (the tokenizer's real vocabulary, 30522, never the embedding padding 30522..30527), 10% stay
 * unchanged; labels = the original id at selected positions, -100 elsewhere. Special tokens ([PAD], [UNK], [CLS],
 * [SEP], [MASK]) and padding are never selected.
 *
 * Randomness is counter-based: the four uniforms of position (row, col) of batch `step` are one Philox4x32-10 block
 * at counter (col, row, step) under key (seed, "MLM!"), so a batch's mask is a pure function of (seed, step, row,
 * col): fresh every batch, reproducible, and exact across resume. (HF draws from torch's global RNG instead, so the
 * masks themselves differ from a PyTorch run; their distribution is the same.)
 */
import { philoxBlock } from './philox_block.js';
import { BERT_VOCAB_SIZE, CLS_ID, IGNORE_INDEX, MASK_ID, PAD_ID, SEP_ID, UNK_ID } from '../tokenizer/special_tokens.js';

/** Options of {@link maskTokens}. */
export interface MlmMaskOptions {
  /** Selection probability: 0.3 for MosaicBERT training, 0.15 for evaluation (and for HF BERT). */
  mlm_probability: number;
  /** Integer in [0, 2^53). */
  seed: number;
  /** Random replacements draw from [0, vocab_size) (default 30522). */
  vocab_size?: number;
  /** Default 103. */
  mask_token_id?: number;
  /** Never selected (default [0, 100, 101, 102, 103]). */
  special_token_ids?: readonly number[];
}

/** Masked copy of the inputs and the MLM labels, both [batch_size, seq_len] int32 row-major. */
export interface MlmMasked {
  input_ids: Int32Array;
  labels: Int32Array;
}

const TWO32 = 4294967296;
const MLM_TAG = 0x4d4c4d21;   // "MLM!"

/**
 * Masks a padded batch for MLM.
 * @param input_ids [batch_size, seq_len] int32 row-major token ids (not modified).
 * @param seq_len S, the row stride.
 * @param step the global batch index (the loader's `batch.step`): part of the random counter.
 * @param attention_mask optional [batch_size, seq_len]; positions with 0 are never selected.
 * @returns masked input_ids and labels (original id where selected, -100 elsewhere).
 * @throws RangeError for mlm_probability outside [0, 1] or a bad shape.
 */
export function maskTokens(input_ids: Int32Array, seq_len: number, step: number, options: MlmMaskOptions,
  attention_mask?: Int32Array): MlmMasked {
  const p = options.mlm_probability;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`mlm_probability must be in [0, 1], got ${p}`);
  if (!(seq_len > 0 && input_ids.length % seq_len === 0)) throw new RangeError(`input_ids length ${input_ids.length} is not a multiple of seq_len ${seq_len}`);
  if (attention_mask && attention_mask.length !== input_ids.length) throw new RangeError('attention_mask shape differs from input_ids');
  const vocab = options.vocab_size ?? BERT_VOCAB_SIZE;
  const maskId = options.mask_token_id ?? MASK_ID;
  const specials = new Set(options.special_token_ids ?? [PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID]);
  const k0 = (options.seed % TWO32) >>> 0, k1 = (Math.floor(options.seed / TWO32) ^ MLM_TAG) >>> 0;
  const s0 = (step % TWO32) >>> 0, s1 = Math.floor(step / TWO32) >>> 0;
  const threshold = Math.round(p * TWO32);   // selected iff word0 < p * 2^32
  const out = Int32Array.from(input_ids);
  const labels = new Int32Array(input_ids.length).fill(IGNORE_INDEX);
  const w = new Uint32Array(4);
  const rows = input_ids.length / seq_len;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < seq_len; c++) {
      const i = r * seq_len + c;
      const id = input_ids[i];
      if (specials.has(id) || (attention_mask && attention_mask[i] === 0)) continue;
      philoxBlock(c, r, s0, s1, k0, k1, w);
      if (!(w[0] < threshold)) continue;
      labels[i] = id;
      if (w[1] < 0.8 * TWO32) out[i] = maskId;                        // 80%: [MASK]
      else if (w[2] < 0.5 * TWO32) out[i] = Math.floor((w[3] / TWO32) * vocab);   // 10%: random id
      // else 10%: unchanged
    }
  }
  return { input_ids: out, labels };
}
