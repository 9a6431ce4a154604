/**
 * Writing `config.json` as Hugging Face does: the `BertConfig.to_dict()` fields both encoders share, classic
 * BERT's plain HF config, and MosaicBERT's in the shape of the `mosaicml/mosaic-bert-base` files (the reference's
 * `to_hf_config_dict` plus `auto_map` into its `bert_layers` / `configuration_bert` modules).
 */
import type { EncoderConfig, MosaicBertConfig } from '../model/config.js';
import type { BertConfig } from '../model/bert_config.js';
import type { HeadKind } from '../model/params.js';

/**
 * The HF `BertConfig` fields of a `config.json` (`architectures`, `model_type: 'bert'`, sizes, dropouts, ...); for
 * classification also `id2label` / `label2id` (generated `LABEL_i` when absent), `num_labels` and `problem_type`.
 * Model-specific keys (MosaicBERT's `alibi_starting_size`, `auto_map`) are added by the caller.
 */
export function hfBertConfigFields(config: EncoderConfig, head: 'mlm' | 'classification'): Record<string, unknown> {
  const d: Record<string, unknown> = {
    architectures: [head === 'mlm' ? 'BertForMaskedLM' : 'BertForSequenceClassification'],
    model_type: 'bert',
    attention_probs_dropout_prob: config.attention_probs_dropout_prob,
    classifier_dropout: config.classifier_dropout,
    hidden_act: config.hidden_act,
    hidden_dropout_prob: config.hidden_dropout_prob,
    hidden_size: config.hidden_size,
    initializer_range: config.initializer_range,
    intermediate_size: config.intermediate_size,
    layer_norm_eps: config.layer_norm_eps,
    max_position_embeddings: config.max_position_embeddings,
    num_attention_heads: config.num_attention_heads,
    num_hidden_layers: config.num_hidden_layers,
    pad_token_id: config.pad_token_id,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    type_vocab_size: config.type_vocab_size,
    vocab_size: config.vocab_size,
  };
  if (head === 'classification') {
    const n = config.num_labels;
    const id2label = config.id2label && Object.keys(config.id2label).length === n
      ? config.id2label : Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
    d.id2label = id2label;
    d.label2id = config.label2id && Object.keys(config.label2id).length === n
      ? config.label2id : Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
    d.num_labels = n;
    if (config.problem_type) d.problem_type = config.problem_type;
  }
  return d;
}

/**
 * config.json contents as HF `BertConfig.to_dict()` writes them (transformers reads it back with `AutoConfig`);
 * classification adds `id2label` / `label2id` (and `problem_type` if set).
 */
export function hfBertConfigDict(config: BertConfig, head: 'mlm' | 'classification'): Record<string, unknown> {
  return { ...hfBertConfigFields(config, head), use_cache: true };
}

const DEFAULT_AUTO_MAP: Record<HeadKind, Record<string, string>> = {
  mlm: { AutoConfig: 'configuration_bert.BertConfig', AutoModelForMaskedLM: 'bert_layers.BertForMaskedLM' },
  classification: {
    AutoConfig: 'configuration_bert.BertConfig', AutoModelForMaskedLM: 'bert_layers.BertForMaskedLM',
    AutoModelForSequenceClassification: 'bert_layers.BertForSequenceClassification',
  },
};

/**
 * config.json contents in the shape of the HF `mosaicml/mosaic-bert-base` files (the reference's
 * `to_hf_config_dict`, plus `auto_map`; classification adds `id2label` / `label2id` and `problem_type` if set).
 */
export function hfConfigDict(config: MosaicBertConfig, head: HeadKind): Record<string, unknown> {
  const { architectures, model_type, ...rest } = hfBertConfigFields(config, head);
  return {
    architectures, model_type, alibi_starting_size: config.alibi_starting_size,
    auto_map: { ...DEFAULT_AUTO_MAP[head], ...(config.auto_map ?? {}) }, ...rest,
  };
}
