/**
 * The two encoders this package runs, as data. MosaicBERT (Portes et al. 2023, §3.1; the reference's
 * `bert_layers.py`) and classic BERT (Devlin et al. 2019; Hugging Face `BertModel`) differ in four places only:
 *
 * | | MosaicBERT | classic BERT |
 * |---|---|---|
 * | positions | ALiBi slopes in attention, no table | learned `position_embeddings` table, slopes 0 |
 * | attention input | one fused `Wqkv` `[3H, H]` | `query` / `key` / `value`, stored back to back so they are one `[3H, H]` |
 * | feed-forward | GeGLU: `gated_layers` `[2I, H]` (no bias), dropout, `wo` | GELU: `intermediate.dense`, `output.dense`, dropout |
 * | MLM head | LayerNorm eps fixed at 1e-12, `cls.predictions.decoder.bias` | eps = layer_norm_eps, `cls.predictions.bias` |
 *
 * Everything else (unpadding, post-LN, the attention kernel, the heads, the state-dict names) is shared, so one
 * encoder, one MLM model and one classification model serve both; an {@link Architecture} is the spec they read.
 */

/** Which encoder a model is. */
export type ModelType = 'mosaicbert' | 'bert';

/** The spec of one encoder family (see the table above). */
export interface Architecture {
  readonly modelType: ModelType;
  /** 'alibi': ALiBi slopes, no position table; 'learned': absolute position embeddings, zero slopes. */
  readonly positions: 'alibi' | 'learned';
  /** 'fused': `attention.self.Wqkv`; 'split': `attention.self.{query,key,value}` stored contiguously. */
  readonly qkv: 'fused' | 'split';
  /** 'geglu': MosaicBERT `mlp.*`, dropout on the gated product; 'gelu': HF `intermediate` / `output`, dropout on the output. */
  readonly ffn: 'geglu' | 'gelu';
  /** State-dict key of the MLM decoder bias. */
  readonly mlmDecoderBiasKey: string;
  /** The MLM head LayerNorm's eps: a constant, or null for the config's `layer_norm_eps`. */
  readonly mlmHeadEps: number | null;
}

/** The MLM head LayerNorm's eps in MosaicBERT: hard-coded 1e-12 in the reference whatever `layer_norm_eps` says. */
export const MLM_HEAD_LAYER_NORM_EPS = 1e-12;

/** MosaicBERT (the reference `bert_layers.py`). */
export const MOSAICBERT: Architecture = {
  modelType: 'mosaicbert', positions: 'alibi', qkv: 'fused', ffn: 'geglu',
  mlmDecoderBiasKey: 'cls.predictions.decoder.bias', mlmHeadEps: MLM_HEAD_LAYER_NORM_EPS,
};

/** HF's key of the classic-BERT MLM decoder bias (`BertLMPredictionHead.bias`). */
export const BERT_DECODER_BIAS_KEY = 'cls.predictions.bias';
/** The same tensor under its alias (HF ties `decoder.bias` to `bias`); accepted when loading. */
export const BERT_DECODER_BIAS_ALIAS = 'cls.predictions.decoder.bias';

/** Classic BERT (Hugging Face `BertModel`, `position_embedding_type: absolute`, `hidden_act: gelu`). */
export const CLASSIC_BERT: Architecture = {
  modelType: 'bert', positions: 'learned', qkv: 'split', ffn: 'gelu',
  mlmDecoderBiasKey: BERT_DECODER_BIAS_KEY, mlmHeadEps: null,
};

/**
 * The architecture a model class declares (`static readonly architecture`), e.g. `MosaicBertForMaskedLM` ->
 * MosaicBERT. @throws Error for a class that declares none (the generic base classes).
 */
export function architectureOf(cls: unknown): Architecture {
  const a = (cls as { architecture?: Architecture }).architecture;
  if (!a) throw new Error(`${(cls as { name?: string }).name ?? 'model'}: no architecture; use a MosaicBert* or Bert* model class`);
  return a;
}
