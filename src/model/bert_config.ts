/**
 * Classic BERT configuration (Hugging Face `BertConfig`, `model_type: "bert"`, e.g. bert-base-uncased's
 * config.json). Only `position_embedding_type: "absolute"` and `hidden_act: "gelu"` (exact erf GELU) are supported.
 * The generic checks (integers, probabilities, eps, head divisibility, pad id) are the MosaicBERT config's
 * {@link configFromDict}; this file adds the BERT-only fields.
 */
import { configFromDict, readConfigFile, type EncoderConfig } from './config.js';

/** Classic BERT's config: HF BertConfig (absolute positions, exact GELU). */
export interface BertConfig extends EncoderConfig {
  /** Activation of the FFN and of the MLM head transform; only 'gelu' (exact erf). */
  hidden_act: 'gelu';
  position_embedding_type: 'absolute';
  model_type: 'bert';
}

/** bert-base-uncased (../shared/data/vocab/config.hf_bert-base-uncased.json); HF BertConfig defaults otherwise. */
export const BERT_BASE_UNCASED: BertConfig = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0,
  position_embedding_type: 'absolute', num_labels: 2, classifier_dropout: null, model_type: 'bert',
};

const FIELDS = new Set<string>([...Object.keys(BERT_BASE_UNCASED), 'id2label', 'label2id', 'problem_type',
  'architectures']);

/**
 * Builds a classic-BERT config from a parsed `config.json` object: missing fields take the bert-base-uncased values,
 * unknown fields are ignored, `num_labels` is derived from `id2label` when absent.
 * @throws Error naming `source` and the field for invalid values, `hidden_act` other than 'gelu', or a
 *   `position_embedding_type` other than 'absolute' (relative_key variants are not implemented).
 */
export function bertConfigFromDict(d: Record<string, unknown>, source = 'config'): BertConfig {
  if (d.hidden_act !== undefined && d.hidden_act !== 'gelu') {
    throw new Error(`${source}: 'hidden_act' must be 'gelu' (exact erf GELU) for classic BERT, got ${JSON.stringify(d.hidden_act)}`);
  }
  if (d.position_embedding_type !== undefined && d.position_embedding_type !== 'absolute') {
    throw new Error(`${source}: 'position_embedding_type' ${JSON.stringify(d.position_embedding_type)} is not supported ` +
      "(only 'absolute')");
  }
  const merged: Record<string, unknown> = { ...BERT_BASE_UNCASED };
  for (const [k, v] of Object.entries(d)) if (v !== undefined && FIELDS.has(k)) merged[k] = v;
  merged.model_type = 'bert';
  merged.position_embedding_type = 'absolute';
  // Shared validation (and num_labels from id2label) by the MosaicBERT config reader.
  const checked = configFromDict({ ...merged, num_labels: d.num_labels }, source) as unknown as Record<string, unknown>;
  const mpe = merged.max_position_embeddings;
  if (typeof mpe !== 'number' || !Number.isInteger(mpe) || mpe < 1) {
    throw new Error(`${source}: 'max_position_embeddings' must be an integer >= 1, got ${JSON.stringify(mpe)}`);
  }
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) if (checked[k] !== undefined) out[k] = checked[k];
  return out as unknown as BertConfig;
}

/** Reads and validates a classic-BERT `config.json`. */
export function readBertConfig(path: string): BertConfig {
  return readConfigFile(path, bertConfigFromDict);
}
