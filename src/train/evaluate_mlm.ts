/**
 * MLM evaluation of a masked-LM model on a prepared split, as the pretraining loop evaluates (Composer's
 * `LanguageCrossEntropy` and `MaskedAccuracy` on the reference's eval loader): the samples in order, batches of
 * `batch_size` padded to their longest sample, masks drawn by `maskTokens` (src/data/masking.ts) at
 * `mlm_probability` (15% by default, the eval rate of the reference's `eval_loader`) with the counter-based
 * stream keyed by (seed, batch index, row, column), so the same arguments mask the same tokens on every run;
 * the model in evaluation mode (no dropout).
 *
 * - loss = the mean cross-entropy in nats over all masked tokens of the evaluated batches (each batch's mean
 *   weighted by its number of targets, i.e. token-weighted, not batch-weighted);
 * - accuracy = the share of masked tokens whose argmax prediction (first maximum on ties) is the original token;
 * - perplexity = exp(loss).
 *
 * The masks depend on the batch size (the row and batch index are part of the random counter), so two runs
 * compare only with the same seed, masking rate and batch size.
 */
import { DataLoader, type Batch } from '../data/loader.js';
import type { TokenDataset } from '../data/token_dataset.js';
import { predictionsFromLogits } from '../glue/metrics.js';
import type { MaskedLMModel } from '../model/mlm.js';

/** Options of {@link evaluateMlm}. */
export interface MlmEvalOptions {
  /** Samples per batch (default 32, the CPU presets' `device_eval_batch_size`); part of the mask counter. */
  batch_size?: number;
  /** Masking rate in [0, 1] (default 0.15). */
  mlm_probability?: number;
  /** Seed of the masks, an integer in [0, 2^53) (default 17, the reference's seed). */
  seed?: number;
  /** Evaluate only the first N batches (the trainer's `eval_subset_num_batches`; default: all, also for -1). */
  max_batches?: number;
  /** Evaluate only the first N samples (the last batch is cut; default: all). */
  max_samples?: number;
  /** Skip a last partial batch (the trainer's `eval_loader.drop_last`; default false). */
  drop_last?: boolean;
  /** Called after every batch (progress displays). */
  onBatch?: (p: MlmEvalProgress) => void;
}

/** Progress of {@link evaluateMlm}, after each batch. */
export interface MlmEvalProgress {
  batches: number;
  /** Batches this evaluation will run. */
  total_batches: number;
  samples: number;
  /** Non-padding tokens so far. */
  tokens: number;
  /** Running token-weighted loss (nats; NaN before the first target). */
  loss: number;
}

/** What {@link evaluateMlm} measured. */
export interface MlmEvalResult {
  /** Mean cross-entropy over the masked tokens, nats (NaN when no token was masked). */
  loss: number;
  /** Masked-token accuracy in [0, 1] (NaN when no token was masked). */
  accuracy: number;
  /** exp(loss). */
  perplexity: number;
  /** Masked tokens (the loss's denominator). */
  num_targets: number;
  batches: number;
  samples: number;
  /** Non-padding tokens of the evaluated samples, [CLS] and [SEP] included. */
  tokens: number;
}

/**
 * Evaluates `model` on `ds` (see the file comment for the definitions).
 * @param model any masked-LM model (MosaicBERT or classic BERT; dense, sparse, or prepared for inference); its
 *   `vocab_size` must cover the dataset's token ids.
 * @param ds a prepared split (`TokenDataset.open(dir/val)`); its index's tokenizer gives the special ids and the
 *   range of random replacement ids.
 * @throws Error for a batch size, sample or batch limit that is not a positive integer, a masking rate outside
 *   [0, 1], or from the model's forward (e.g. a token id outside its vocabulary).
 */
export function evaluateMlm(model: MaskedLMModel, ds: TokenDataset, o: MlmEvalOptions = {}): MlmEvalResult {
  const B = o.batch_size ?? 32, seed = o.seed ?? 17, p = o.mlm_probability ?? 0.15;
  const posInt = (v: number | undefined, name: string) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`${name} must be an integer >= 1, got ${v}`);
  };
  posInt(o.max_samples, 'max_samples');
  if (o.max_batches !== -1) posInt(o.max_batches, 'max_batches');
  if (!(p >= 0 && p <= 1)) throw new Error(`mlm_probability must be in [0, 1], got ${p}`);
  const loader = new DataLoader(ds, { batch_size: B, shuffle: false, drop_last: o.drop_last ?? false, seed, pad_to: 'longest',
    mlm: { mlm_probability: p, seed } });
  const maxSamples = Math.min(o.max_samples ?? Infinity, o.drop_last ? loader.batches_per_epoch * B : ds.num_samples);
  const maxBatches = o.max_batches === undefined || o.max_batches === -1 ? Infinity : o.max_batches;
  const total = Math.min(maxBatches, Math.ceil(maxSamples / B));
  const V = model.config.vocab_size;
  let lossSum = 0, hits = 0, n = 0, batches = 0, samples = 0, tokens = 0;
  for (const full of loader.epochBatches()) {
    if (batches >= total) break;
    const b = firstRows(full, Math.min(full.batch_size, maxSamples - samples));
    batches++;
    samples += b.batch_size;
    tokens += b.cu_seqlens[b.batch_size];
    const out = model.forward({ batch: b.batch_size, seqlen: b.seq_len, input_ids: b.input_ids, attention_mask: b.attention_mask,
      token_type_ids: b.token_type_ids, labels: b.labels }, { training: false });
    if (out.numTargets) {
      lossSum += out.loss! * out.numTargets;
      n += out.numTargets;
      const preds = predictionsFromLogits(out.logits, out.numTargets, V);
      for (let r = 0; r < out.numTargets; r++) if (preds[r] === b.labels![out.positions[r]]) hits++;
    }
    o.onBatch?.({ batches, total_batches: total, samples, tokens, loss: n ? lossSum / n : NaN });
  }
  const loss = n ? lossSum / n : NaN;
  return { loss, accuracy: n ? hits / n : NaN, perplexity: Math.exp(loss), num_targets: n, batches, samples, tokens };
}

/**
 * The first `rows` rows of a batch (the batch itself when it has no more), still padded to the full batch's length;
 * masks are keyed by row and column, so the kept rows keep theirs.
 */
function firstRows(b: Batch, rows: number): Batch {
  if (rows >= b.batch_size) return b;
  const S = b.seq_len, cut = (a: Int32Array) => a.subarray(0, rows * S);
  let longest = 0;
  for (let r = 0; r < rows; r++) longest = Math.max(longest, b.cu_seqlens[r + 1] - b.cu_seqlens[r]);
  return { ...b, batch_size: rows, input_ids: cut(b.input_ids), attention_mask: cut(b.attention_mask),
    token_type_ids: cut(b.token_type_ids), labels: b.labels && cut(b.labels), cu_seqlens: b.cu_seqlens.subarray(0, rows + 1),
    max_seqlen_in_batch: longest, sample_indices: b.sample_indices.subarray(0, rows) };
}
