/**
 * Throughput, MFU and corpus statistics for pretraining.
 *
 * MFU (model FLOPs utilisation) counts the matmul FLOPs the model really needs, forward + backward (3x forward):
 *   FLOPs of a batch = 6 * T * L * (4 H^2 + 3 I H)          (Wqkv, attention output, GeGLU gated_layers and wo)
 *                    + 6 * M * (H^2 + V H)                    (MLM head: transform + tied decoder, masked rows only)
 *                    + 12 * L * H * sum_i len_i^2             (attention scores and values)
 * with T the non-padding tokens, M the MLM targets, L layers, H hidden, I intermediate, V vocab, len_i each sample's
 * length; MFU = FLOPs / seconds / peak, peak 195 GFLOP/s by default (the fp32 FMA peak the project brief gives for
 * the 2-core reference machine; `mosaicbert bench kernels` measures 203.5-205 GFLOP/s there; set `mfu_peak_flops` to yours, e.g. from `mosaicbert bench kernels`). Unlike the
 * 6 * N * T formula of ../shared/reference/torch/bench_results.md, it does not charge the 30528 x H embedding matrix
 * to every token (it is a lookup there and a matmul only on the masked rows), so MFU stays a hardware-efficiency
 * figure below 100%. The last-layer subset trick's saving is not subtracted (a slight overstatement).
 */
import type { MosaicBertConfig } from '../model/config.js';
import type { TokenDataset } from '../data/token_dataset.js';

/**
 * Training FLOPs of one batch by the MFU formula above.
 * @param cuSeqlens `[B + 1]` prefix sums of the sample lengths (the loader's `cu_seqlens`).
 * @param numTargets M, the MLM targets of the batch.
 */
export function trainingFlops(cfg: MosaicBertConfig, cuSeqlens: Int32Array, numTargets: number): number {
  let tokens = 0, sq = 0;
  for (let b = 0; b + 1 < cuSeqlens.length; b++) {
    const l = cuSeqlens[b + 1] - cuSeqlens[b];
    tokens += l; sq += l * l;
  }
  const H = cfg.hidden_size, I = cfg.intermediate_size, L = cfg.num_hidden_layers, V = cfg.vocab_size;
  return 6 * tokens * L * (4 * H * H + 3 * I * H) + 6 * numTargets * (H * H + V * H) + 12 * L * H * sq;
}

/** Sliding-window rate of (tokens, flops) over the last `window` steps. */
export class SpeedWindow {
  private readonly items: Array<{ s: number; tokens: number; flops: number }> = [];
  constructor(private readonly window: number) {}

  /** Adds one step: its wall seconds, non-pad tokens and FLOPs. */
  push(s: number, tokens: number, flops: number): void {
    this.items.push({ s, tokens, flops });
    if (this.items.length > this.window) this.items.shift();
  }

  /** Non-pad tokens per second and FLOP/s over the window (0 when empty). */
  rates(): { tokensPerS: number; flopsPerS: number } {
    let s = 0, t = 0, f = 0;
    for (const x of this.items) { s += x.s; t += x.tokens; f += x.flops; }
    return s > 0 ? { tokensPerS: t / s, flopsPerS: f / s } : { tokensPerS: 0, flopsPerS: 0 };
  }
}

/**
 * Unigram entropy in nats, `-sum_w p(w) ln p(w)` with p the token frequencies of the split (special tokens
 * excluded, as they are never MLM targets): the cross-entropy of the best context-free predictor of a masked
 * token, the baseline an MLM's loss should go below.
 * @param specialIds ids to skip (default: the dataset's [PAD], [UNK], [CLS], [SEP], [MASK]).
 * @returns entropy (nats) and the number of tokens counted.
 */
export function unigramEntropy(ds: TokenDataset, specialIds?: number[]): { entropy: number; tokens: number } {
  const t = ds.index.tokenizer;
  const skip = new Set(specialIds ?? [t.pad_token_id, t.unk_token_id, t.cls_token_id, t.sep_token_id, t.mask_token_id]);
  const counts = new Float64Array(65536);
  let n = 0;
  for (let i = 0; i < ds.num_samples; i++) {
    const s = ds.sample(i);
    for (let j = 0; j < s.length; j++) if (!skip.has(s[j])) { counts[s[j]]++; n++; }
  }
  let h = 0;
  for (let w = 0; w < counts.length; w++) if (counts[w] > 0) { const p = counts[w] / n; h -= p * Math.log(p); }
  return { entropy: h, tokens: n };
}
