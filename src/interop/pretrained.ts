/**
 * Hugging Face model folders: `fromPretrained(dir)` builds a MosaicBERT model from `config.json` plus weights in
 * any of the layouts HF writes (`model.safetensors`, sharded `model.safetensors.index.json`, `pytorch_model.bin`,
 * sharded `pytorch_model.bin.index.json`), and `savePretrained(model, dir)` writes a folder that HF (with
 * `trust_remote_code`) and the PyTorch reference read back: config.json in the shape of
 * `mosaicml/mosaic-bert-base`, model.safetensors without the tied decoder key, and the bert-base-uncased tokenizer
 * files. See the `mosaicml/mosaic-bert-base` checkpoint files for the key names and config fields.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../data/atomic.js';
import { basename, dirname, join } from 'node:path';
import type { Kernels } from '../kernels/types.js';
import { configFromDict, type MosaicBertConfig } from '../model/config.js';
import { hfBertConfigDict, hfConfigDict } from './hf_config.js';
import { attachInt8Backends, dequantizeStateDict, QUANT_METHOD, quantizeStateDict } from './quantized.js';
import { paramShapes, type HeadKind } from '../model/params.js';
import { stateDict, TIED_DECODER_KEY, WORD_EMBEDDINGS_KEY } from '../model/state_dict.js';
import { BertForMaskedLM, MaskedLMModel, MosaicBertForMaskedLM } from '../model/mlm.js';
import { BertForSequenceClassification, MosaicBertForSequenceClassification, SequenceClassificationModel } from '../model/classification.js';
import { CLASSIC_BERT, MOSAICBERT } from '../model/architecture.js';
import { normalizeStateDict } from '../model/state_dict.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../io/safetensors.js';
import { readTorchCheckpoint } from '../io/torch_pickle.js';
import { composerCheckpointPath, readComposerCheckpoint } from './composer.js';
import { bertBaseUncasedVocabPath } from '../tokenizer/vocab_path.js';
import { bertConfigFromDict, type BertConfig } from '../model/bert_config.js';

/**
 * Any model {@link fromPretrained} can build: a masked-LM or a sequence-classification model of either
 * architecture (`model.modelType` is 'mosaicbert' or 'bert').
 */
export type PretrainedModel = MaskedLMModel | SequenceClassificationModel;

/** Same as {@link PretrainedModel} (kept for the names earlier releases exported). */
export type AnyPretrainedModel = PretrainedModel;

/** A classic-BERT model that {@link fromPretrained} can build (`modelType === 'bert'`). */
export type ClassicBertModel = BertForMaskedLM | BertForSequenceClassification;

/** Weight file layouts, in the order {@link fromPretrained} looks for them. */
export const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
  'pytorch_model.bin.index.json'] as const;

export interface FromPretrainedOptions {
  /** Which model to build; default from `architectures` in config.json, else from the checkpoint's keys. */
  head?: HeadKind;
  /** Classification labels (default: config `num_labels` / `id2label`, else the stored classifier's rows). */
  numLabels?: number;
  /** Config fields overriding config.json (e.g. dropout for fine-tuning). */
  config?: Partial<MosaicBertConfig>;
  /** Throw on missing or unexpected keys (and on an untied decoder) instead of warning. Default false. */
  strict?: boolean;
  /**
   * Load even when encoder or embedding weights (`bert.embeddings.*`, `bert.encoder.*`) are missing, initialising
   * them randomly with a warning. Default false: that is an error listing the keys (a model with a random encoder
   * layer serves garbage). Missing head weights (pooler, classifier, MLM head) are always allowed, with a warning.
   */
  allowMissingWeights?: boolean;
  /**
   * Prepare the model for inference in this precision (transformers.js's `dtype`): 'fp32' pre-packs the encoder's
   * weights (sparse kernels for sparse weights), 'q8' quantizes them to INT8 (see `EncoderModel.prepareInference`).
   * Default: none (a trainable model).
   */
  dtype?: 'fp32' | 'q8';
  /** Restrict the weight format (default 'auto': safetensors first, as HF does). */
  format?: 'auto' | 'safetensors' | 'bin';
  kernels?: Kernels;
  /** Seed of the random initialisation of parameters the checkpoint lacks (e.g. a new classifier). Default 17. */
  initSeed?: number;
  /** Receives warnings (default: console.warn). */
  warn?: (message: string) => void;
}

/** What {@link loadPretrained} found besides the model. */
export interface PretrainedInfo {
  /** MosaicBERT or classic-BERT config, per `modelType`. */
  config: MosaicBertConfig | BertConfig;
  /** 'mosaicbert' (fused Wqkv, ALiBi, GeGLU) or 'bert' (classic HF BERT: query/key/value, position embeddings). */
  modelType: 'mosaicbert' | 'bert';
  head: HeadKind;
  format: 'safetensors' | 'bin';
  /** The weight files read, in order. */
  files: string[];
  /** Model parameters the checkpoint did not provide (randomly initialised). */
  missing: string[];
  /** Checkpoint keys the model has no parameter for (ignored). */
  unexpected: string[];
  /** How the checkpoint held the tied decoder matrix. */
  decoder: 'absent' | 'shared' | 'equal' | 'different';
  /**
   * Fraction of exact zeros over the encoder's projection weights (a pruned model's sparsity; 0 for a dense one), as
   * `EncoderModel.encoderSparsity()` counts it.
   */
  sparsity: number;
}

/** Reads a JSON file; Errors name the file. */
function readJson(path: string): Record<string, unknown> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`${path}: cannot read (${(e as Error).message})`); }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

function readWeightFile(path: string): Map<string, Tensor> {
  return path.endsWith('.safetensors') ? readSafetensors(path).tensors : readTorchCheckpoint(path).tensors;
}

/**
 * Reads the weights of a model folder as a name -> tensor map, from the first layout of {@link WEIGHT_FILES}
 * present (limited to one format by `format`). Sharded layouts read each shard named by the index's `weight_map`
 * (shard names must be plain file names inside `dir`).
 * @throws Error when no weight file exists, a shard is missing, or a key the index lists is absent from its shard.
 */
export function readPretrainedWeights(dir: string, format: 'auto' | 'safetensors' | 'bin' = 'auto'):
  { tensors: Map<string, Tensor>; files: string[]; format: 'safetensors' | 'bin' } {
  const candidates = WEIGHT_FILES.filter((f) => format === 'auto' || (format === 'bin') === f.startsWith('pytorch_model'));
  const found = candidates.find((f) => existsSync(join(dir, f)));
  if (!found) throw new Error(`${dir}: no weights found (looked for ${candidates.join(', ')})`);
  const fmt = found.startsWith('pytorch_model') ? 'bin' : 'safetensors';
  const path = join(dir, found);
  if (!found.endsWith('.index.json')) return { tensors: readWeightFile(path), files: [path], format: fmt };

  const index = readJson(path);
  const map = index.weight_map as Record<string, unknown> | undefined;
  if (!map || typeof map !== 'object') throw new Error(`${path}: no 'weight_map' object`);
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard === '.' || shard === '..') {
      throw new Error(`${path}: key '${key}' maps to ${JSON.stringify(shard)}, not a file name in the folder`);
    }
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push(key);
  }
  const tensors = new Map<string, Tensor>(), files: string[] = [];
  for (const [shard, keys] of byShard) {
    const sp = join(dir, shard);
    if (!existsSync(sp)) throw new Error(`${path}: shard '${shard}' is missing`);
    const t = readWeightFile(sp);
    files.push(sp);
    for (const k of keys) if (!t.has(k)) throw new Error(`${sp}: key '${k}' listed in ${basename(path)} is absent`);
    for (const [k, v] of t) tensors.set(k, v);
  }
  return { tensors, files, format: fmt };
}

/** True when config.json describes MosaicBERT (ALiBi field, or auto_map into the reference's bert_layers). */
function isMosaicConfig(raw: Record<string, unknown>): boolean {
  if (raw.alibi_starting_size !== undefined) return true;
  const am = raw.auto_map;
  return !!am && typeof am === 'object' && Object.values(am).some((v) => typeof v === 'string' && /bert_layers\./.test(v));
}

function headFromArchitectures(raw: Record<string, unknown>): HeadKind | undefined {
  const arch = raw.architectures;
  if (!Array.isArray(arch)) return undefined;
  if (arch.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'))) return 'classification';
  if (arch.some((a) => typeof a === 'string' && (a.endsWith('ForMaskedLM') || a.endsWith('ForPreTraining')))) return 'mlm';
  return undefined;
}

function sameData(a: Tensor, b: Tensor): boolean {
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** True for a weight of the encoder body (embeddings and layers), which may not silently be random; heads may. */
export function isEncoderWeight(name: string): boolean {
  return /^bert\.(embeddings|encoder)\./.test(name);
}

/**
 * Strict loading: throws when `missing` (parameter names a checkpoint did not provide) includes encoder or
 * embedding weights ({@link isEncoderWeight}); head weights may be missing.
 * @param source the checkpoint file or folder, for the message.
 * @throws Error naming `source` and listing the missing encoder/embedding keys.
 */
export function assertEncoderWeightsPresent(missing: readonly string[], source: string): void {
  const body = missing.filter(isEncoderWeight);
  if (!body.length) return;
  throw new Error(`${source}: missing encoder/embedding weights: ${body.join(', ')}; the model would run with random ` +
    'values there. Check the checkpoint, or pass allowMissingWeights (--allow-missing-weights) to initialise them randomly');
}

/**
 * Builds a model from a Hugging Face folder and reports what was loaded. The model type is dispatched on: MosaicBERT
 * when config.json says so (`alibi_starting_size`, or `auto_map` into `bert_layers`) or the weights have fused
 * `Wqkv`; otherwise (`model_type: bert` config, or separate query/key/value and position-embedding keys) classic
 * BERT ({@link BertForMaskedLM} / {@link BertForSequenceClassification}; TF-era `LayerNorm.gamma/beta` names and
 * `cls.predictions.decoder.bias` are accepted, `position_ids` buffers dropped). Composer's `model.` key prefix is stripped; the
 * tied decoder weight may be stored or not. Missing and unexpected keys are listed by name: warned about, or
 * thrown with `strict: true`. A missing encoder or embedding weight is an error listing the keys unless
 * `allowMissingWeights`; head parameters the checkpoint lacks (pooler, classifier, MLM head) are randomly
 * initialised (reference init) with a warning, as Hugging Face does. `dir` may also be a Composer `.pt`
 * checkpoint or a folder holding one (see composer.ts), with its config from a config.json beside it, else the
 * one Composer stored in the checkpoint, else `opts.config`.
 * @throws Error naming the file and the problem (no weights, wrong shapes, unsupported model, strict failures).
 */
export function loadPretrained(dir: string, opts: FromPretrainedOptions = {}): { model: AnyPretrainedModel; info: PretrainedInfo } {
  const hfWeights = existsSync(dir) && statSync(dir).isDirectory() && WEIGHT_FILES.some((f) => existsSync(join(dir, f)));
  const composer = hfWeights ? null : composerCheckpointPath(dir);
  const composerCk = composer ? readComposerCheckpoint(composer) : null;
  const cfgPath = join(composer ? dirname(composer) : dir, 'config.json');
  let raw: Record<string, unknown> = {};
  if (existsSync(cfgPath)) raw = readJson(cfgPath);
  else if (!composer) throw new Error(`${dir}: no config.json (not a Hugging Face model folder or a Composer .pt checkpoint)`);
  else if (composerCk?.config) raw = composerCk.config;
  else if (!opts.config) {
    throw new Error(`${composer}: a Composer checkpoint needs a config: it stores none (state.integrations.huggingface); ` +
      'put a config.json beside it or pass the config option');
  }
  if (raw.model_type !== undefined && !['bert', 'mosaic_bert', 'mosaicbert'].includes(String(raw.model_type))) {
    throw new Error(`${cfgPath}: model_type '${String(raw.model_type)}' is not supported (MosaicBERT and classic BERT only)`);
  }
  const { tensors: sd0, files, format } = composer
    ? { tensors: composerCk!.tensors, files: [composer], format: 'bin' as const }
    : readPretrainedWeights(dir, opts.format ?? 'auto');
  const src = files.length === 1 ? files[0] : dir;
  const built = modelFromStateDict(raw, sd0, { ...opts, source: src, configSource: cfgPath });
  return { model: built.model, info: { ...built.info, format, files } };
}

/** Options of {@link modelFromStateDict}. */
export interface ModelFromStateDictOptions extends FromPretrainedOptions {
  /** Named in errors and warnings about the weights (a file or folder). */
  source?: string;
  /** Named in errors about the config (default: `source`). */
  configSource?: string;
}

/**
 * Builds a model from a parsed config.json object and a state dict (the body of {@link loadPretrained}, for
 * sources that are not a Hugging Face folder: training checkpoints, presets, fine-tuning starts): architecture
 * detection, config validation, tied-decoder check, reference initialisation of whatever the state dict lacks
 * (the same per-parameter Philox streams as a fresh model with `initSeed`), then the load.
 * @throws Error naming the source (invalid config, shapes, strict failures).
 */
export function modelFromStateDict(raw: Record<string, unknown>, sd0: Map<string, Tensor>, opts: ModelFromStateDictOptions = {}):
  { model: PretrainedModel; info: Omit<PretrainedInfo, 'format' | 'files'> } {
  const warn = opts.warn ?? ((m: string) => console.warn(`mosaicbert: ${m}`));
  const src = opts.source ?? 'state dict', cfgPath = opts.configSource ?? src;
  let sd = new Map<string, Tensor>();
  for (const [k, v] of sd0) sd.set(k.startsWith('model.') ? k.slice(6) : k, v);
  // An INT8 folder (quantized.ts): fp32 weights for the parameters, the int8 values for the backends.
  const int8 = dequantizeStateDict(sd, src);
  const keys = [...sd.keys()];

  // Architecture: MosaicBERT versus classic BERT.
  const hasWqkv = keys.some((k) => /\.attention\.self\.Wqkv\./.test(k));
  const classicKeys = keys.some((k) => /\.attention\.self\.(query|key|value)\.|embeddings\.position_embeddings\./.test(k));
  const classic = (classicKeys && !hasWqkv) || (!isMosaicConfig(raw) && !hasWqkv);
  if (classic) sd = normalizeStateDict(sd, CLASSIC_BERT);

  const head: HeadKind = opts.head ?? headFromArchitectures(raw) ??
    (keys.some((k) => k.startsWith('classifier.')) ? 'classification' : 'mlm');
  const over: Record<string, unknown> = { ...raw, ...(opts.config ?? {}) };
  if (opts.numLabels !== undefined) over.num_labels = opts.numLabels;
  else if (head === 'classification' && raw.num_labels === undefined && raw.id2label === undefined && sd.has('classifier.weight')) {
    over.num_labels = sd.get('classifier.weight')!.shape[0];
  }
  const config = classic ? bertConfigFromDict(over, cfgPath) : configFromDict(over, cfgPath);

  // Tied decoder: the model uses the word embeddings; a stored copy must agree.
  let decoder: PretrainedInfo['decoder'] = 'absent';
  const dec = sd.get(TIED_DECODER_KEY), emb = sd.get(WORD_EMBEDDINGS_KEY);
  if (dec && emb) {
    decoder = dec.data === emb.data || (dec.data.buffer === emb.data.buffer && dec.data.byteOffset === emb.data.byteOffset)
      ? 'shared' : sameData(dec, emb) ? 'equal' : 'different';
    if (decoder === 'different') {
      const msg = `${src}: '${TIED_DECODER_KEY}' differs from '${WORD_EMBEDDINGS_KEY}'; ${classic ? 'BERT' : 'MosaicBERT'} ties them, so the ` +
        'word embeddings are used for both';
      if (opts.strict) throw new Error(msg);
      warn(msg);
    }
  }

  // Parameters the checkpoint lacks are initialised randomly; otherwise skip the (costly) init.
  const present = (n: string) => sd.has(n) || (n === WORD_EMBEDDINGS_KEY && sd.has(TIED_DECODER_KEY));
  const shapes = paramShapes(config, head, classic ? CLASSIC_BERT : MOSAICBERT);
  const absent = shapes.map(([n]) => n).filter((n) => !present(n));
  if (!opts.allowMissingWeights) assertEncoderWeightsPresent(absent, src);
  const needInit = absent.length > 0;
  const mopts = { kernels: opts.kernels, noInit: !needInit, initSeed: opts.initSeed };
  let model: AnyPretrainedModel;
  if (classic) {
    const c = config as BertConfig;
    model = head === 'mlm' ? new BertForMaskedLM(c, mopts) : new BertForSequenceClassification(c, mopts);
  } else {
    const c = config as MosaicBertConfig;
    model = head === 'mlm' ? new MosaicBertForMaskedLM(c, mopts) : new MosaicBertForSequenceClassification(c, mopts);
  }
  const rep = model.loadStateDict(sd, src);
  if (int8.size) attachInt8Backends(model, int8);
  const unexpected = [...rep.unexpected];
  if (head === 'classification' && sd.has(TIED_DECODER_KEY)) unexpected.push(TIED_DECODER_KEY);
  const problems: string[] = [];
  if (rep.missing.length) problems.push(`missing keys (randomly initialised): ${rep.missing.join(', ')}`);
  if (unexpected.length) problems.push(`unexpected keys (ignored): ${unexpected.join(', ')}`);
  if (problems.length) {
    const msg = `${src}: ${problems.join('; ')}`;
    if (opts.strict) throw new Error(msg);
    warn(msg);
  }
  return { model, info: { config, modelType: classic ? 'bert' : 'mosaicbert', head, missing: rep.missing, unexpected, decoder,
    sparsity: model.encoderSparsity() } };
}

/**
 * Builds a MosaicBERT or classic-BERT model from a Hugging Face model folder (see {@link loadPretrained} for the
 * rules).
 * @returns MosaicBertForMaskedLM / MosaicBertForSequenceClassification, or BertForMaskedLM /
 *   BertForSequenceClassification for a classic BERT folder, per `opts.head` or `architectures`.
 */
export function fromPretrained(dir: string, opts: FromPretrainedOptions & { head: 'mlm' }): MaskedLMModel;
export function fromPretrained(dir: string, opts: FromPretrainedOptions & { head: 'classification' }): SequenceClassificationModel;
export function fromPretrained(dir: string, opts?: FromPretrainedOptions): AnyPretrainedModel;
export function fromPretrained(dir: string, opts: FromPretrainedOptions = {}): AnyPretrainedModel {
  const model = loadPretrained(dir, opts).model;
  if (opts.dtype) model.prepareInference(opts.dtype);
  return model;
}

export interface SavePretrainedOptions {
  /**
   * Folder with the tokenizer files to copy (vocab.txt required; tokenizer_config.json, special_tokens_map.json,
   * tokenizer.json if present). Default: the packaged bert-base-uncased vocab with generated configs.
   */
  tokenizerDir?: string;
  /** Write tokenizer files at all (default true). */
  tokenizer?: boolean;
  /**
   * 'q8': store the encoder's projection weights as int8 per output channel with their scales and a
   * `quantization_config` (see quantized.ts; `mosaicbert quantize`). Default: fp32, as Hugging Face.
   */
  dtype?: 'fp32' | 'q8';
}

const SPECIAL_TOKENS_MAP = {
  unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]',
};

/**
 * Saves `model` as a Hugging Face folder: `model.safetensors` (fp32, reference key names, tied decoder key
 * omitted as HF does, `__metadata__` {format: 'pt'}), `config.json` ({@link hfConfigDict}; for classic BERT
 * {@link hfBertConfigDict}, HF key names with `query/key/value` separate) and the tokenizer files.
 * Each file is written atomically; the weights go first so a reader never sees a config without its weights.
 * @returns the paths written.
 */
export function savePretrained(model: AnyPretrainedModel, dir: string, opts: SavePretrainedOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const wpath = join(dir, 'model.safetensors');
  const q8 = opts.dtype === 'q8' ? quantizeStateDict(model, stateDict(model.params)) : null;
  writeSafetensors(wpath, q8 ? q8.tensors : stateDict(model.params), { format: 'pt' });
  written.push(wpath);
  const cpath = join(dir, 'config.json');
  const cfgDict = model.modelType === 'bert' ? hfBertConfigDict(model.config as BertConfig, model.head)
    : hfConfigDict(model.config as MosaicBertConfig, model.head);
  if (q8) {
    cfgDict.quantization_config = { quant_method: QUANT_METHOD, bits: 8, weights: 'symmetric int8 per output channel',
      activations: 'dynamic symmetric int8 per token', modules: q8.modules };
  }
  writeFileAtomic(cpath, JSON.stringify(cfgDict, null, 2) + '\n');
  written.push(cpath);
  if (opts.tokenizer === false) return written;
  const copied = new Set<string>();
  const copy = (from: string, name: string) => {
    const to = join(dir, name), tmp = `${to}.tmp-${process.pid}`;
    copyFileSync(from, tmp);
    renameSync(tmp, to);
    written.push(to);
    copied.add(name);
  };
  if (opts.tokenizerDir) {
    const vocab = join(opts.tokenizerDir, 'vocab.txt');
    if (!existsSync(vocab)) throw new Error(`${opts.tokenizerDir}: no vocab.txt to copy`);
    copy(vocab, 'vocab.txt');
    for (const f of ['tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json']) {
      if (existsSync(join(opts.tokenizerDir, f))) copy(join(opts.tokenizerDir, f), f);
    }
  } else {
    copy(bertBaseUncasedVocabPath(), 'vocab.txt');
  }
  const generated: Record<string, unknown> = {
    'tokenizer_config.json': {
      do_lower_case: true, model_max_length: 512, tokenizer_class: 'BertTokenizer', strip_accents: null,
      tokenize_chinese_chars: true, ...SPECIAL_TOKENS_MAP,
    },
    'special_tokens_map.json': SPECIAL_TOKENS_MAP,
  };
  for (const [name, content] of Object.entries(generated)) {
    if (copied.has(name)) continue;
    const p = join(dir, name);
    writeFileAtomic(p, JSON.stringify(content, null, 2) + '\n');
    written.push(p);
  }
  return written;
}
