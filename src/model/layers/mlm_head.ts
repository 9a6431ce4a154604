/**
 * The BERT MLM prediction head (HF `BertLMPredictionHead`, the reference's `BertOnlyMLMHead`):
 * `logits = LN(gelu(x Wt^T + bt)) E^T + b_dec`, the decoder weight tied to the word embeddings E `[V, H]` with its
 * own bias (`cls.predictions.decoder.bias` in MosaicBERT, `cls.predictions.bias` in HF BERT). The tied decoder's
 * gradient lands in the word-embedding gradient (same parameter).
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { ActivationArena } from './buffers.js';
import { LayerNorm, layerNormActivations } from './layer_norm.js';
import { Linear } from './linear.js';
import type { BackwardScratch } from './scratch.js';

const T = 'cls.predictions.transform.';

/** What the head keeps for its backward: `t`, `g`, `n` `[rows, H]` (transform, GELU, LayerNorm outputs), `logits`. */
export const mlmHeadActivations = (a: ActivationArena) => ({ ...a.f32s('t', 'g', 'n', 'logits'), ln: layerNormActivations(a) });
export type MlmHeadActivations = ReturnType<typeof mlmHeadActivations>;

export class MlmHead {
  readonly transform: Linear;
  readonly ln: LayerNorm;
  /** The tied decoder: weight = `bert.embeddings.word_embeddings.weight`. */
  readonly decoder: Linear;

  /**
   * @param eps the head LayerNorm's eps (MosaicBERT hard-codes 1e-12; HF BERT uses layer_norm_eps).
   * @param decoderBiasKey the parameter name of the decoder bias.
   */
  constructor(private readonly k: Kernels, P: ParamStore, private readonly hidden: number, eps: number,
    decoderBiasKey: string) {
    this.transform = new Linear(k, P, T + 'dense', P.require(T + 'dense.weight'), P.require(T + 'dense.bias'));
    this.ln = new LayerNorm(k, P, T + 'LayerNorm', eps);
    this.decoder = new Linear(k, P, 'cls.predictions.decoder', P.require('bert.embeddings.word_embeddings.weight'),
      P.require(decoderBiasKey));
  }

  /** Head on `x: [rows, H]`; returns `[rows, V]` logits (a view of `a.logits`). */
  forward(x: Float32Array, rows: number, a: MlmHeadActivations): Float32Array {
    const { k, hidden: H } = this;
    const t = a.t.get(rows * H), g = a.g.get(rows * H), n = a.n.get(rows * H);
    this.transform.forward(x, rows, t);
    k.geluForward(t, rows * H, g);
    this.ln.forward(g, null, rows, null, n, a.ln);
    const logits = a.logits.get(rows * this.decoder.outFeatures);
    this.decoder.forward(n, rows, logits);
    return logits;
  }

  /**
   * Backward of the last `forward(x, rows, a)` given `dLogits` (`[rows, V]`; may be the forward's logits buffer):
   * accumulates the head's gradients into `G`; returns the gradient of `x` `[rows, H]` (a view of `S.dz`).
   */
  backward(G: ParamStore, x: Float32Array, dLogits: Float32Array, rows: number, a: MlmHeadActivations,
    S: BackwardScratch): Float32Array {
    const { k, hidden: H } = this;
    const dn = S.ds1.get(rows * H);
    this.decoder.backward(G, dLogits, a.n.last, rows, dn);
    const dg = S.dh1.get(rows * H);
    this.ln.backward(G, dn, a.g.last, rows, dg, a.ln);
    k.geluBackward(a.t.last, dg, rows * H, dg);
    const dx = S.dz.get(rows * H);
    this.transform.backward(G, dg, x, rows, dx);
    return dx;
  }
}
