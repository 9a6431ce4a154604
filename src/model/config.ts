/**
 * MosaicBERT configuration, read from the fields of a Hugging Face `config.json` (the reference's
 * `configuration_bert.BertConfig`: HF BertConfig + `alibi_starting_size`).
 */
import { readFileSync } from 'node:fs';

/**
 * The Hugging Face `BertConfig` fields both encoders read (MosaicBERT's config is HF BertConfig plus
 * `alibi_starting_size`; classic BERT's is HF BertConfig).
 */
export interface EncoderConfig {
  /** Rows of the word-embedding / tied decoder matrix (MosaicBERT pads it to a multiple of 8: 30522 -> 30528). */
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** FFN inner width I (GeGLU: `gated_layers` maps hidden -> 2I; GELU: `intermediate.dense` maps hidden -> I). */
  intermediate_size: number;
  /** 'gelu' = exact erf GELU (the MLM head transform; classic BERT's FFN too). */
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  type_vocab_size: number;
  initializer_range: number;
  /** Encoder LayerNorm eps (MosaicBERT's MLM head LayerNorm always uses 1e-12, as the reference hard-codes). */
  layer_norm_eps: number;
  pad_token_id: number;
  /** Classic BERT: rows of the learned position table (the longest input). MosaicBERT: unused (ALiBi). */
  max_position_embeddings: number;
  num_labels: number;
  classifier_dropout: number | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  problem_type?: string;
  architectures?: string[];
  model_type?: string;
}

/** MosaicBERT's config: HF BertConfig plus ALiBi's pre-allocation size (the reference's `configuration_bert.py`). */
export interface MosaicBertConfig extends EncoderConfig {
  /** ALiBi pre-allocation size in the reference; the bias is rebuilt for longer inputs, so any length works. */
  alibi_starting_size: number;
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

/**
 * Reads a `config.json` and builds a config with `fromDict` (e.g. {@link configFromDict}).
 * @throws Error naming the file when it cannot be read or parsed, or a field is invalid.
 */
export function readConfigFile<C>(path: string, fromDict: (d: Record<string, unknown>, source: string) => C): C {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read config (${(e as Error).message})`);
  }
  return fromDict(d, path);
}

/** Reads and validates a MosaicBERT `config.json`. */
export function readConfig(path: string): MosaicBertConfig {
  return readConfigFile(path, configFromDict);
}

/** Head dimension `hidden_size / num_attention_heads`. */
export function headDim(cfg: MosaicBertConfig): number {
  return cfg.hidden_size / cfg.num_attention_heads;
}
