/**
 * Classic-BERT parameters with the Hugging Face key names (`BertForMaskedLM` / `BertForSequenceClassification`
 * state dicts). They live in one flat {@link ParamStore}; the layout puts each layer's `query`, `key` and `value`
 * weights back to back (and their biases), so the three `[H, H]` matrices ARE one fused `[3H, H]` matrix
 * `[Wq; Wk; Wv]` (and a `[3H]` bias) with no copy: the forward runs one GEMM into the `[Q | K | V]` layout of the
 * attention kernel, gradients land directly under the HF names, and saving writes the HF names.
 */
import { ParamStore, type HeadKind, type ParamSpec } from '../params.js';
import type { BertConfig } from './config.js';

/** HF's key of the MLM decoder bias (`BertLMPredictionHead.bias`). */
export const BERT_DECODER_BIAS_KEY = 'cls.predictions.bias';
/** The same tensor under its alias (HF ties `decoder.bias` to `bias`); accepted when loading. */
export const BERT_DECODER_BIAS_ALIAS = 'cls.predictions.decoder.bias';

/** The parameter list `[name, shape]` of a classic-BERT model with the given head, in storage order. */
export function bertParamShapes(cfg: BertConfig, head: HeadKind): Array<[string, number[]]> {
  const H = cfg.hidden_size, I = cfg.intermediate_size;
  const out: Array<[string, number[]]> = [
    ['bert.embeddings.word_embeddings.weight', [cfg.vocab_size, H]],
    ['bert.embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H]],
    ['bert.embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H]],
    ['bert.embeddings.LayerNorm.weight', [H]],
    ['bert.embeddings.LayerNorm.bias', [H]],
  ];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`;
    out.push(
      // q/k/v weights then q/k/v biases, contiguous (see bertParamStore).
      [p + 'attention.self.query.weight', [H, H]],
      [p + 'attention.self.key.weight', [H, H]],
      [p + 'attention.self.value.weight', [H, H]],
      [p + 'attention.self.query.bias', [H]],
      [p + 'attention.self.key.bias', [H]],
      [p + 'attention.self.value.bias', [H]],
      [p + 'attention.output.dense.weight', [H, H]],
      [p + 'attention.output.dense.bias', [H]],
      [p + 'attention.output.LayerNorm.weight', [H]],
      [p + 'attention.output.LayerNorm.bias', [H]],
      [p + 'intermediate.dense.weight', [I, H]],
      [p + 'intermediate.dense.bias', [I]],
      [p + 'output.dense.weight', [H, I]],
      [p + 'output.dense.bias', [H]],
      [p + 'output.LayerNorm.weight', [H]],
      [p + 'output.LayerNorm.bias', [H]],
    );
  }
  if (head === 'mlm') {
    out.push(
      ['cls.predictions.transform.dense.weight', [H, H]],
      ['cls.predictions.transform.dense.bias', [H]],
      ['cls.predictions.transform.LayerNorm.weight', [H]],
      ['cls.predictions.transform.LayerNorm.bias', [H]],
      [BERT_DECODER_BIAS_KEY, [cfg.vocab_size]],
    );
  } else {
    out.push(
      ['bert.pooler.dense.weight', [H, H]],
      ['bert.pooler.dense.bias', [H]],
      ['classifier.weight', [cfg.num_labels, H]],
      ['classifier.bias', [cfg.num_labels]],
    );
  }
  return out;
}

const ALIGN = 16;
const PACKED = /\.attention\.self\.(key|value)\.(weight|bias)$/;

/**
 * The ParamSpecs of {@link bertParamShapes}: each tensor starts 64-byte aligned except `key.*` / `value.*`, which
 * follow `query.*` / `key.*` with no gap so that `query..value` form one fused block.
 */
export function bertParamSpecs(cfg: BertConfig, head: HeadKind): ParamSpec[] {
  let off = 0;
  return bertParamShapes(cfg, head).map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!PACKED.test(name)) off = Math.ceil(off / ALIGN) * ALIGN;
    const s = { name, shape, offset: off, size };
    off += size;
    return s;
  });
}

/** A zero-filled ParamStore with the classic-BERT layout (use `zerosLike()` for gradients: same layout). */
export function bertParamStore(cfg: BertConfig, head: HeadKind): ParamStore {
  return new ParamStore(bertParamSpecs(cfg, head));
}

/**
 * Layer `l`'s fused attention input projection in `store` (parameters or gradients): `weight` `[3H, H]` =
 * `[query.weight; key.weight; value.weight]`, `bias` `[3H]` = `[query.bias | key.bias | value.bias]` (views).
 */
export function fusedQkv(store: ParamStore, l: number, H: number): { weight: Float32Array; bias: Float32Array } {
  const p = `bert.encoder.layer.${l}.attention.self.`;
  const w = store.spec(p + 'query.weight'), b = store.spec(p + 'query.bias');
  if (!w || !b) throw new Error(`no attention parameters for layer ${l}`);
  if (store.spec(p + 'value.weight')!.offset !== w.offset + 2 * H * H || store.spec(p + 'value.bias')!.offset !== b.offset + 2 * H) {
    throw new Error('fusedQkv: query/key/value are not stored contiguously (not a bertParamStore layout)');
  }
  return { weight: store.data.subarray(w.offset, w.offset + 3 * H * H), bias: store.data.subarray(b.offset, b.offset + 3 * H) };
}
