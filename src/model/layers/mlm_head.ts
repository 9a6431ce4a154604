/**
 * The BERT MLM prediction head shared by MosaicBERT and classic BERT (HF `BertLMPredictionHead`):
 * `logits = LN(gelu(x Wt^T + bt)) E^T + b_dec`, the decoder weight tied to the word embeddings E (`[V, H]`) with its
 * own bias (`cls.predictions.decoder.bias` in MosaicBERT, `cls.predictions.bias` in HF BERT). The tied decoder's
 * gradient is accumulated into the word-embedding gradient.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { Workspace } from '../workspace.js';
import { linearBackward, linearForward } from './linear.js';

const WORD = 'bert.embeddings.word_embeddings.weight';
const T = 'cls.predictions.transform.';

export class MlmHead {
  /**
   * @param eps the head LayerNorm's eps (MosaicBERT hard-codes 1e-12; HF BERT uses layer_norm_eps).
   * @param decoderBiasKey the parameter name of the decoder bias.
   */
  constructor(private readonly hidden: number, private readonly vocab: number, private readonly eps: number,
    private readonly decoderBiasKey: string, private readonly k: Kernels, private readonly ws: Workspace) {}

  /**
   * Head on `x: [rows, H]`; returns `[rows, V]` logits in a workspace buffer named after `tag`. The backward reads
   * the intermediates of tag 'mlm' (and needs the same `x`).
   */
  forward(P: ParamStore, x: Float32Array, rows: number, tag: string): Float32Array {
    const { k, ws, hidden: H, vocab: V } = this;
    const t = ws.f32(`${tag}.t`, rows * H), g = ws.f32(`${tag}.g`, rows * H), n = ws.f32(`${tag}.n`, rows * H);
    linearForward(k, x, rows, H, P.get(T + 'dense.weight'), P.get(T + 'dense.bias'), H, t);
    k.geluForward(t, rows * H, g);
    k.layerNormForward(g, null, P.get(T + 'LayerNorm.weight'), P.get(T + 'LayerNorm.bias'), rows, H, this.eps, null, n,
      ws.f32(`${tag}.mean`, rows), ws.f32(`${tag}.rstd`, rows));
    const logits = ws.f32(`${tag}.logits`, rows * V);
    linearForward(k, n, rows, H, P.get(WORD), P.get(this.decoderBiasKey), V, logits);
    return logits;
  }

  /**
   * Backward of the last `forward(P, x, rows, 'mlm')` given that `x` and `dLogits` (`[rows, V]`; may be the
   * forward's logits buffer):
   * accumulates the head's gradients (and the tied decoder's into the word embeddings) into `G`; returns the
   * gradient of the head input `[rows, H]` (a workspace view).
   */
  backward(P: ParamStore, G: ParamStore, x: Float32Array, dLogits: Float32Array, rows: number): Float32Array {
    const { k, ws, hidden: H, vocab: V } = this;
    const dn = ws.f32('mlm.dn', rows * H);
    linearBackward(k, dLogits, ws.f32('mlm.n', rows * H), rows, H, P.get(WORD), V, G.get(WORD),
      G.get(this.decoderBiasKey), dn);
    const dg = ws.f32('mlm.dg', rows * H);
    k.layerNormBackward(dn, ws.f32('mlm.g', rows * H), P.get(T + 'LayerNorm.weight'), ws.f32('mlm.mean', rows),
      ws.f32('mlm.rstd', rows), rows, H, dg, G.get(T + 'LayerNorm.weight'), G.get(T + 'LayerNorm.bias'));
    k.geluBackward(ws.f32('mlm.t', rows * H), dg, rows * H, dg);
    const dx = ws.f32('mlm.dhm', rows * H);
    linearBackward(k, dg, x, rows, H, P.get(T + 'dense.weight'), H, G.get(T + 'dense.weight'),
      G.get(T + 'dense.bias'), dx);
    return dx;
  }
}
