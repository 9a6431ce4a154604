/**
 * Batches of a prepared split for pretraining: a seeded per-epoch shuffle (a fresh {@link SeededPermutation} for
 * each (seed, epoch)), `drop_last`, right padding with [PAD], optional MLM masking, and exact resume from a small
 * state {epoch, position}. The reference loader is `StreamingTextDataset` + `DataCollatorForLanguageModeling`
 * (train: shuffle, drop_last; eval: no shuffle, keep the last partial batch).
 */
import { maskTokens, type MlmMaskOptions } from './masking.js';
import { SeededPermutation } from './permutation.js';
import type { TokenDataset } from './token_dataset.js';

/** Where a loader is: `position` samples of epoch `epoch`'s order are consumed. JSON-serialisable. */
export interface LoaderState {
  epoch: number;
  position: number;
}

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  /** Samples a batch (B). */
  batch_size: number;
  /** Visit samples in a seeded random order, new each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle and of the masking (default 17, the reference's seed). */
  seed?: number;
  /** Skip an epoch's last partial batch (default true, the reference's train loader). */
  drop_last?: boolean;
  /** Pad every batch to the dataset's max_seq_len (default, the reference) or to the batch's longest sample. */
  pad_to?: 'max_seq_len' | 'longest';
  /**
   * When set, batches carry masked input_ids and labels (see masking.ts); vocab_size, mask_token_id and
   * special_token_ids default to the dataset's tokenizer (index.json), the seed to `seed`.
   */
  mlm?: Omit<MlmMaskOptions, 'seed'> & { seed?: number };
}

/** One batch; the [B, S] tensors are int32, row-major. */
export interface Batch {
  /** B: rows (batch_size, or fewer for a last partial batch). */
  batch_size: number;
  /** S: padded length. */
  seq_len: number;
  /** Token ids, [PAD] (0) after each sample's end; [MASK]/random ids at masked positions when `mlm` is set. */
  input_ids: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attention_mask: Int32Array;
  /** All zeros (single-segment pretraining samples). */
  token_type_ids: Int32Array;
  /** MLM targets: original id at masked positions, -100 elsewhere; only with `mlm`. */
  labels?: Int32Array;
  /** [B + 1] prefix sums of the sample lengths: the unpadded layout's sequence boundaries. */
  cu_seqlens: Int32Array;
  /** Longest sample in this batch. */
  max_seqlen_in_batch: number;
  /** [B] dataset index of each row. */
  sample_indices: Int32Array;
  epoch: number;
  /** Global batch counter, epoch * batches_per_epoch + batch in epoch: the masking counter. */
  step: number;
}

export class DataLoader {
  /** Batches per epoch: floor(N / B) with drop_last, else ceil(N / B). */
  readonly batches_per_epoch: number;
  private readonly batch_size: number;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly drop_last: boolean;
  private epoch: number;
  private position: number;
  private perm: SeededPermutation | null = null;

  /**
   * @param dataset an opened split.
   * @param state where to resume (default {epoch: 0, position: 0}).
   * @throws Error for a bad batch_size, an empty epoch (too few samples for one batch with drop_last), or a state
   *   outside this dataset.
   */
  constructor(readonly dataset: TokenDataset, private readonly options: LoaderOptions, state?: LoaderState) {
    this.batch_size = options.batch_size;
    if (!(Number.isInteger(this.batch_size) && this.batch_size >= 1)) throw new Error(`batch_size must be a positive integer, got ${this.batch_size}`);
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 17;
    this.drop_last = options.drop_last ?? true;
    const n = dataset.num_samples;
    this.batches_per_epoch = this.drop_last ? Math.floor(n / this.batch_size) : Math.ceil(n / this.batch_size);
    if (this.batches_per_epoch === 0) throw new Error(`${dataset.dir}: ${n} samples make no batch of ${this.batch_size}`);
    this.epoch = state?.epoch ?? 0;
    this.position = state?.position ?? 0;
    if (!(Number.isInteger(this.epoch) && this.epoch >= 0 && Number.isInteger(this.position) && this.position >= 0 &&
      this.position <= n)) {
      throw new Error(`loader state ${JSON.stringify(state)} is outside this dataset (${n} samples)`);
    }
  }

  /** The state to save: a new loader built with it continues exactly where this one is. */
  state(): LoaderState {
    return { epoch: this.epoch, position: this.position };
  }

  private order(epoch: number): SeededPermutation | null {
    if (!this.shuffle) return null;
    if (!this.perm || this.perm.epoch !== epoch) this.perm = new SeededPermutation(this.dataset.num_samples, this.seed, epoch);
    return this.perm;
  }

  /** The next batch, moving to the next epoch when this one is done (never ends). */
  next(): Batch {
    const n = this.dataset.num_samples, B = this.batch_size;
    const left = n - this.position;
    if (left <= 0 || (this.drop_last && left < B)) { this.epoch++; this.position = 0; }
    const rows = Math.min(B, n - this.position);
    const perm = this.order(this.epoch);
    const step = this.epoch * this.batches_per_epoch + Math.floor(this.position / B);
    const sample_indices = new Int32Array(rows);
    const samples: Uint16Array[] = [];
    let longest = 0;
    for (let r = 0; r < rows; r++) {
      const pos = this.position + r;
      const idx = perm ? perm.at(pos) : pos;
      sample_indices[r] = idx;
      const s = this.dataset.sample(idx);
      samples.push(s);
      if (s.length > longest) longest = s.length;
    }
    const epoch = this.epoch;
    this.position += rows;
    const S = (this.options.pad_to ?? 'max_seq_len') === 'longest' ? longest : Math.max(this.dataset.max_seq_len, longest);
    const input_ids = new Int32Array(rows * S);   // [PAD] = 0
    const attention_mask = new Int32Array(rows * S);
    const cu_seqlens = new Int32Array(rows + 1);
    for (let r = 0; r < rows; r++) {
      const s = samples[r];
      for (let c = 0; c < s.length; c++) { input_ids[r * S + c] = s[c]; attention_mask[r * S + c] = 1; }
      cu_seqlens[r + 1] = cu_seqlens[r] + s.length;
    }
    const batch: Batch = { batch_size: rows, seq_len: S, input_ids, attention_mask,
      token_type_ids: new Int32Array(rows * S), cu_seqlens, max_seqlen_in_batch: longest, sample_indices, epoch, step };
    if (this.options.mlm) {
      const t = this.dataset.index.tokenizer;
      const m = maskTokens(input_ids, S, step, {
        vocab_size: t.vocab_size, mask_token_id: t.mask_token_id,
        special_token_ids: [t.pad_token_id, t.unk_token_id, t.cls_token_id, t.sep_token_id, t.mask_token_id],
        ...this.options.mlm, seed: this.options.mlm.seed ?? this.seed }, attention_mask);
      batch.input_ids = m.input_ids;
      batch.labels = m.labels;
    }
    return batch;
  }

  /** The remaining batches of the current epoch (all of it when at its start). */
  *epochBatches(): Generator<Batch> {
    const n = this.dataset.num_samples, B = this.batch_size;
    const done = () => this.position >= n || (this.drop_last && n - this.position < B);
    if (done()) { this.epoch++; this.position = 0; }
    while (!done()) yield this.next();
  }
}
