/**
 * Weight initialisation as the reference's `init_bert_weights_` (HF `BertPreTrainedModel._init_weights`):
 * Linear and Embedding weights ~ N(0, initializer_range^2), biases 0, LayerNorm weight 1 / bias 0, the padding row
 * of the word embeddings zeroed — then re-drawn by the tied decoder (a Linear visited later), so in the MLM model
 * row `pad_token_id` ends up non-zero exactly as in the reference. Draws come from Philox (seeded, reproducible).
 */
import { philox4x32_10 } from '../kernels/reference/philox.js';
import type { HeadKind, ParamStore } from './params.js';
import type { EncoderConfig } from './config.js';

/** Fills `out` with N(0, std^2) samples from Philox stream `stream` under `seed` (Box-Muller on 32-bit words). */
export function fillNormal(out: Float32Array, std: number, seed: number, stream: number): void {
  const TWO32 = 4294967296;
  for (let i = 0; i < out.length; i += 2) {
    const blk = i / 2;
    const w = philox4x32_10(blk % TWO32 >>> 0, Math.floor(blk / TWO32) >>> 0, stream >>> 0, 0, seed >>> 0,
      Math.floor(seed / TWO32) >>> 0);
    const u1 = (w[0] + 1) / (TWO32 + 1), u2 = w[1] / TWO32;
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
}

/** Initialises every parameter of `params` as the reference does; `seed` makes it reproducible. */
export function initWeights(params: ParamStore, cfg: EncoderConfig, head: HeadKind, seed: number): void {
  const std = cfg.initializer_range;
  params.specs.forEach((s, idx) => {
    const v = params.get(s.name);
    if (/(LayerNorm|layernorm)\.weight$/.test(s.name)) v.fill(1);
    else if (s.shape.length === 1) v.fill(0);
    else fillNormal(v, std, seed, idx + 1);
    if (s.name === 'bert.embeddings.word_embeddings.weight' && head !== 'mlm') {
      v.subarray(cfg.pad_token_id * cfg.hidden_size, (cfg.pad_token_id + 1) * cfg.hidden_size).fill(0);
    }
  });
}
