/**
 * MosaicBERT configuration, read from the fields of a Hugging Face `config.json` (the reference's
 * `configuration_bert.BertConfig`: HF BertConfig + `alibi_starting_size`, docs/mosaicbert.md §1.1 and §2).
 */
import { readFileSync } from 'node:fs';

export interface MosaicBertConfig {
  /** Rows of the word-embedding / decoder matrix; padded to a multiple of 8 (30522 -> 30528). */
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** GeGLU inner width I: `gated_layers` maps hidden -> 2I, `wo` maps I -> hidden. */
  intermediate_size: number;
  /** Activation of the MLM head transform only ('gelu' = exact erf GELU). */
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  type_vocab_size: number;
  initializer_range: number;
  /** Encoder LayerNorm eps (the MLM head's LayerNorm always uses 1e-12, as the reference hard-codes). */
  layer_norm_eps: number;
  pad_token_id: number;
  /** ALiBi pre-allocation size in the reference; the bias is rebuilt for longer inputs, so any length works. */
  alibi_starting_size: number;
  /** Present in HF configs; unused by MosaicBERT (no position embeddings). */
  max_position_embeddings: number;
  num_labels: number;
  classifier_dropout: number | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: string;
  architectures?: string[];
  model_type?: string;
  auto_map?: Record<string, string>;
}

/** bert-base-uncased shapes with the MosaicBERT fields (the reference's defaults). */
export const MOSAIC_BERT_BASE: MosaicBertConfig = {
  vocab_size: 30528, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.0, type_vocab_size: 2,
  initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, alibi_starting_size: 512,
  max_position_embeddings: 512, num_labels: 2, classifier_dropout: null, model_type: 'bert',
};

/** `vocab_size` rounded up to a multiple of 8, as the reference does (30522 -> 30528). */
export function padVocabSize(n: number, multiple = 8): number {
  return n % multiple === 0 ? n : n + multiple - (n % multiple);
}

function checkInt(cfg: Record<string, unknown>, key: string, min: number, src: string): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${src}: '${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
}

function checkProb(cfg: Record<string, unknown>, key: string, src: string): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    throw new Error(`${src}: '${key}' must be a probability in [0, 1), got ${JSON.stringify(v)}`);
  }
}

/**
 * Builds a config from a parsed `config.json` object: missing fields take the MosaicBERT-base defaults, unknown
 * fields are ignored, `num_labels` is derived from `id2label` when absent. Throws an Error naming `source` and the
 * field when a value is invalid (e.g. hidden_size not divisible by num_attention_heads).
 */
export function configFromDict(d: Record<string, unknown>, source = 'config'): MosaicBertConfig {
  const cfg = { ...MOSAIC_BERT_BASE } as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(d)) if (v !== undefined) cfg[k] = v;
  if (d.num_labels === undefined && d.id2label && typeof d.id2label === 'object') {
    cfg.num_labels = Object.keys(d.id2label as object).length;
  }
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
    'type_vocab_size', 'alibi_starting_size', 'num_labels']) checkInt(cfg, k, 1, source);
  checkInt(cfg, 'pad_token_id', 0, source);
  checkProb(cfg, 'hidden_dropout_prob', source);
  checkProb(cfg, 'attention_probs_dropout_prob', source);
  if (cfg.classifier_dropout !== null) checkProb(cfg, 'classifier_dropout', source);
  if (typeof cfg.layer_norm_eps !== 'number' || !((cfg.layer_norm_eps as number) > 0)) {
    throw new Error(`${source}: 'layer_norm_eps' must be a positive number, got ${JSON.stringify(cfg.layer_norm_eps)}`);
  }
  if ((cfg.hidden_size as number) % (cfg.num_attention_heads as number) !== 0) {
    throw new Error(`${source}: 'hidden_size' (${cfg.hidden_size}) must be divisible by 'num_attention_heads' ` +
      `(${cfg.num_attention_heads})`);
  }
  if (cfg.hidden_act !== 'gelu') {
    throw new Error(`${source}: 'hidden_act' must be 'gelu' (exact erf GELU, the MosaicBERT head), got ` +
      JSON.stringify(cfg.hidden_act));
  }
  if ((cfg.pad_token_id as number) >= (cfg.vocab_size as number)) {
    throw new Error(`${source}: 'pad_token_id' (${cfg.pad_token_id}) must be < 'vocab_size' (${cfg.vocab_size})`);
  }
  return cfg as unknown as MosaicBertConfig;
}

/** Reads and validates a Hugging Face `config.json`. */
export function readConfig(path: string): MosaicBertConfig {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read config (${(e as Error).message})`);
  }
  return configFromDict(d, path);
}

/** Head dimension `hidden_size / num_attention_heads`. */
export function headDim(cfg: MosaicBertConfig): number {
  return cfg.hidden_size / cfg.num_attention_heads;
}

/** The config fields both model types share (the subset of HF `BertConfig` that the two readers consume). */
export interface HfBertFields {
  hidden_act: string; hidden_dropout_prob: number; attention_probs_dropout_prob: number; classifier_dropout: number | null;
  hidden_size: number; initializer_range: number; intermediate_size: number; layer_norm_eps: number;
  max_position_embeddings: number; num_attention_heads: number; num_hidden_layers: number; pad_token_id: number;
  type_vocab_size: number; vocab_size: number; num_labels: number; id2label?: Record<string, string>;
  label2id?: Record<string, number>; problem_type?: string;
}

/**
 * The HF `BertConfig` fields of a `config.json` (`architectures`, `model_type: 'bert'`, sizes, dropouts, ...); for
 * classification also `id2label` / `label2id` (generated `LABEL_i` when absent), `num_labels` and `problem_type`.
 * Model-specific keys (MosaicBERT's `alibi_starting_size`, `auto_map`) are added by the caller.
 */
export function hfBertConfigFields(config: HfBertFields, head: 'mlm' | 'classification'): Record<string, unknown> {
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
