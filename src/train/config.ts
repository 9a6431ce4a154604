/**
 * Pretraining configuration: the reference's YAML (`yamls/main/mosaic-bert-base-uncased.yaml`) read as it is, validated with zod, resolved into a {@link TrainConfig}.
 *
 * - `${key}` interpolation (OmegaConf style, top-level or dotted keys) is resolved before validation.
 * - Keys that do not apply to a single-process fp32 CPU run (streaming `data_remote`, `precision: amp_bf16`,
 *   `fused_layernorm` / `low_precision_layernorm`, `num_workers`, `device_train_microbatch_size: auto`, callbacks
 *   other than speed/lr monitors, loggers, unknown keys) produce a warning naming the key and why.
 * - Anything that would change the math and is not implemented (another optimizer, scheduler, model or
 *   algorithm) is an error naming the key and the accepted values. Nothing that changes the math is ignored.
 * - Presets: `mosaic-bert-base` (the paper's recipe) and CPU-sized `mosaic-bert-small|mini|tiny` (see PRESETS).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configFromDict, type MosaicBertConfig } from '../model/config.js';
import { parseTime, type Time } from './time.js';

/** The resolved configuration the trainer runs. Times are parsed; every field is set. */
export interface TrainConfig {
  run_name: string;
  seed: number;
  /** Data files/folders from the config (`data`, extension) — the CLI's --data and MOSAICBERT_DATA come first. */
  data: string[] | null;
  /** The reference's `data_local`, used as a data source when it exists. */
  data_local: string | null;
  /** How raw text becomes samples (prepare mode): 'truncate' (the reference) or 'chunk'. */
  data_mode: 'truncate' | 'chunk';
  /** Fraction of documents for the validation split when raw text is prepared. */
  val_fraction: number;
  max_seq_len: number;
  tokenizer_name: 'bert-base-uncased';
  /** Model shape: bert-base-uncased defaults overridden by `model.model_config`. */
  model: MosaicBertConfig;
  /** Optional safetensors weights to start from (`model.pretrained_checkpoint`). */
  pretrained_checkpoint: string | null;
  train: { mlm_probability: number; shuffle: boolean; drop_last: boolean };
  eval: { mlm_probability: number; shuffle: boolean; drop_last: boolean };
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  scheduler: { t_warmup: Time; alpha_f: number };
  max_duration: Time;
  eval_interval: Time;
  /** Batches of the validation split per evaluation (-1: all). */
  eval_subset_num_batches: number;
  global_train_batch_size: number;
  device_train_microbatch_size: number;
  device_eval_batch_size: number;
  save_interval: Time | null;
  /** Checkpoints kept (-1: all). */
  save_num_checkpoints_to_keep: number;
  /** Checkpoint folder ('{run_name}' substituted; relative to the run dir); default `<run_dir>/checkpoints`. */
  save_folder: string | null;
  /** A checkpoint folder to resume from. */
  load_path: string | null;
  /** Resume from the newest complete checkpoint in the run when there is one. */
  autoresume: boolean;
  /** Global-norm gradient clipping threshold (null: off, the reference). */
  grad_clip_norm: number | null;
  progress_bar: boolean;
  log_to_console: boolean;
  console_log_interval: Time;
  /** Steps in the throughput window (speed_monitor.window_size). */
  speed_window: number;
  /** Peak FLOP/s for MFU (default 195e9: the 2-core fp32 FMA peak of the reference benchmark machine). */
  mfu_peak_flops: number;
  /** Native thread pool size (0: the library default). */
  threads: number;
}

/** A configuration and the warnings produced while reading it. */
export interface LoadedConfig {
  config: TrainConfig;
  warnings: string[];
  /** The merged raw object after interpolation and overrides (written to the run dir). */
  raw: Record<string, unknown>;
}

const REFERENCE_RECIPE = {
  max_seq_len: 128,
  tokenizer_name: 'bert-base-uncased',
  mlm_probability: 0.3,
  model: { name: 'mosaic_bert', pretrained_model_name: '${tokenizer_name}', tokenizer_name: '${tokenizer_name}' },
  train_loader: { name: 'text', dataset: { split: 'train', tokenizer_name: '${tokenizer_name}', max_seq_len: '${max_seq_len}',
    shuffle: true, mlm_probability: '${mlm_probability}' }, drop_last: true },
  eval_loader: { name: 'text', dataset: { split: 'val', tokenizer_name: '${tokenizer_name}', max_seq_len: '${max_seq_len}',
    shuffle: false, mlm_probability: 0.15 }, drop_last: false },
  scheduler: { name: 'linear_decay_with_warmup', t_warmup: '0.06dur', alpha_f: 0.02 },
  optimizer: { name: 'decoupled_adamw', lr: 5.0e-4, betas: [0.9, 0.98], eps: 1.0e-6, weight_decay: 1.0e-5 },
  seed: 17,
  save_num_checkpoints_to_keep: 1,
};

function cpuPreset(name: string, shape: Record<string, number>, lr: number): Record<string, unknown> {
  return deepMerge(REFERENCE_RECIPE, {
    run_name: name,
    data_mode: 'chunk',
    model: { model_config: { ...shape, attention_probs_dropout_prob: 0.0 } },
    optimizer: { lr },
    max_duration: '2000ba',
    eval_interval: '0.2dur',
    eval_subset_num_batches: 8,
    global_train_batch_size: 32,
    device_train_microbatch_size: 32,
    device_eval_batch_size: 32,
    save_interval: '0.25dur',
    console_log_interval: '1ba',
  });
}

/**
 * Built-in presets. `mosaic-bert-base` is the paper's recipe (12 layers, hidden 768, 12 heads, intermediate
 * 3072; batch 4096 in microbatches of 128; 286,720,000 samples; lr 5e-4). The CPU presets keep the recipe
 * (DecoupledAdamW, 6% warmup, decay to 0.02x, 30% masking, seq 128) with a global batch of 32 and
 * `data_mode: chunk` (long Wikipedia articles are cut into 128-token windows instead of truncated):
 * - `mosaic-bert-small`: 4 layers, hidden 512, 8 heads, intermediate 2048 (~32.7M params), lr 1e-3;
 * - `mosaic-bert-mini`: 4 layers, hidden 256, 4 heads, intermediate 1024 (~12.1M params), lr 1e-3;
 * - `mosaic-bert-tiny`: 2 layers, hidden 128, 2 heads, intermediate 512 (~4.4M params), lr 2e-3.
 */
export const PRESETS: Record<string, Record<string, unknown>> = {
  'mosaic-bert-base': deepMerge(REFERENCE_RECIPE, {
    run_name: 'mosaic-bert-base-uncased',
    model: { model_config: { num_attention_heads: 12, num_hidden_layers: 12, attention_probs_dropout_prob: 0.0 } },
    max_duration: '286720000sp',
    eval_interval: '2000ba',
    global_train_batch_size: 4096,
    device_train_microbatch_size: 128,
    device_eval_batch_size: 128,
    save_interval: '3500ba',
  }),
  'mosaic-bert-small': cpuPreset('mosaic-bert-small',
    { num_hidden_layers: 4, hidden_size: 512, num_attention_heads: 8, intermediate_size: 2048 }, 1e-3),
  'mosaic-bert-mini': cpuPreset('mosaic-bert-mini',
    { num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 }, 1e-3),
  'mosaic-bert-tiny': cpuPreset('mosaic-bert-tiny',
    { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 }, 2e-3),
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Recursive merge: objects merge key by key, everything else (arrays too) is replaced by `b`'s value. */
export function deepMerge(a: unknown, b: unknown): Record<string, unknown> {
  if (!isObj(a)) return (isObj(b) ? structuredClone(b) : b) as Record<string, unknown>;
  const out: Record<string, unknown> = structuredClone(a);
  if (!isObj(b)) return out;
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k], v) : structuredClone(v);
  return out;
}

function getPath(o: Record<string, unknown>, path: string): unknown {
  let cur: unknown = o;
  for (const p of path.split('.')) {
    if (!isObj(cur) || !(p in cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/**
 * Resolves OmegaConf-style `${a.b}` references against the root object. A string that is exactly one reference
 * takes the referenced value (any type); references inside longer strings are substituted as text.
 * @throws Error naming the key for a missing reference or a cycle.
 */
export function interpolate(root: Record<string, unknown>): Record<string, unknown> {
  const resolve = (v: unknown, where: string, depth: number): unknown => {
    if (depth > 20) throw new Error(`config: '${where}': interpolation cycle`);
    if (typeof v === 'string') {
      const whole = /^\$\{([A-Za-z0-9_.]+)\}$/.exec(v);
      if (whole) {
        const r = getPath(root, whole[1]);
        if (r === undefined) throw new Error(`config: '${where}': \${${whole[1]}} refers to a missing key`);
        return resolve(r, where, depth + 1);
      }
      return v.replace(/\$\{([A-Za-z0-9_.]+)\}/g, (_m, key: string) => {
        const r = getPath(root, key);
        if (r === undefined) throw new Error(`config: '${where}': \${${key}} refers to a missing key`);
        return String(resolve(r, where, depth + 1));
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => resolve(x, `${where}[${i}]`, depth));
    if (isObj(v)) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = resolve(x, where ? `${where}.${k}` : k, depth);
      return o;
    }
    return v;
  };
  return resolve(root, '', 0) as Record<string, unknown>;
}

/**
 * Applies `key.path=value` overrides (value parsed as a YAML scalar/flow value: `lr=1e-3`, `betas=[0.9,0.95]`,
 * `save_folder=null`). Creates missing objects along the path.
 * @throws Error for an override without '='.
 */
export function applyOverrides(raw: Record<string, unknown>, overrides: string[]): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const ov of overrides) {
    const eq = ov.indexOf('=');
    if (eq <= 0) throw new Error(`--set '${ov}': expected key.path=value`);
    const path = ov.slice(0, eq).trim().split('.');
    const value = parseYaml(ov.slice(eq + 1)) as unknown;
    let cur = out;
    for (let i = 0; i < path.length - 1; i++) {
      if (!isObj(cur[path[i]])) cur[path[i]] = {};
      cur = cur[path[i]] as Record<string, unknown>;
    }
    cur[path[path.length - 1]] = value;
  }
  return out;
}

const timeStr = z.union([z.string(), z.number().int().nonnegative()]);
/** A masking probability: strictly between 0 (nothing to predict, loss 0) and 1 (nothing left to read). */
const prob = z.number().gt(0, 'expected a masking probability in (0, 1)').lt(1, 'expected a masking probability in (0, 1)');
const posInt = z.number().int('expected an integer >= 1').positive('expected an integer >= 1');
const loaderSchema = z.object({
  name: z.string().optional(),
  dataset: z.object({
    local: z.string().nullish(), remote: z.string().nullish(), split: z.string().optional(),
    tokenizer_name: z.string().optional(), max_seq_len: z.number().int().min(3).optional(),
    shuffle: z.boolean().optional(), mlm_probability: prob.optional(),
  }).loose().optional(),
  drop_last: z.boolean().optional(),
  num_workers: z.number().int().nonnegative().optional(),
}).loose();

/** The accepted keys and their types (zod). Unknown keys pass validation and draw a warning. */
export const configSchema = z.object({
  data_local: z.string().nullish(),
  data_remote: z.string().nullish(),
  data: z.union([z.string(), z.array(z.string())]).nullish(),
  data_mode: z.enum(['truncate', 'chunk']).optional(),
  val_fraction: z.number().gt(0, 'expected the validation fraction of documents, in (0, 1)').lt(1, 'expected the validation fraction of documents, in (0, 1)').optional(),
  max_seq_len: z.number().int('expected tokens per sample, an integer in [3, 65535]').min(3, 'expected tokens per sample, an integer in [3, 65535]').max(65535, 'expected tokens per sample, an integer in [3, 65535]').optional(),
  tokenizer_name: z.string().optional(),
  mlm_probability: prob.optional(),
  run_name: z.string().min(1).optional(),
  model: z.object({
    name: z.string().optional(),
    pretrained_model_name: z.string().nullish(),
    tokenizer_name: z.string().nullish(),
    model_config: z.record(z.string(), z.unknown()).nullish(),
    pretrained_checkpoint: z.string().nullish(),
  }).loose().optional(),
  train_loader: loaderSchema.optional(),
  eval_loader: loaderSchema.optional(),
  scheduler: z.object({ name: z.string(), t_warmup: timeStr.optional(), alpha_f: z.number().min(0).max(1).optional() })
    .loose().optional(),
  optimizer: z.object({
    name: z.string(), lr: z.number().positive('expected the peak learning rate, a number > 0'), betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(),
    eps: z.number().positive().optional(), weight_decay: z.number().nonnegative().optional(),
  }).loose().optional(),
  algorithms: z.record(z.string(), z.unknown()).nullish(),
  max_duration: timeStr.optional(),
  eval_interval: timeStr.optional(),
  eval_subset_num_batches: z.number().int().min(-1).refine((v) => v !== 0, 'expected -1 (all) or a batch count >= 1').optional(),
  global_train_batch_size: posInt.optional(),
  seed: z.number().int().nonnegative().optional(),
  device_eval_batch_size: posInt.optional(),
  device_train_microbatch_size: z.union([posInt, z.literal('auto')]).optional(),
  precision: z.string().nullish(),
  progress_bar: z.boolean().optional(),
  log_to_console: z.boolean().optional(),
  console_log_interval: timeStr.optional(),
  callbacks: z.record(z.string(), z.unknown()).nullish(),
  loggers: z.record(z.string(), z.unknown()).nullish(),
  save_interval: timeStr.nullish(),
  save_num_checkpoints_to_keep: z.number().int().min(-1).refine((v) => v !== 0, 'expected -1 (keep all) or a count >= 1 (0 would keep none to resume from)').optional(),
  save_folder: z.string().nullish(),
  save_overwrite: z.boolean().optional(),
  load_path: z.string().nullish(),
  autoresume: z.boolean().optional(),
  grad_clip_norm: z.number().positive().nullish(),
  mfu_peak_flops: z.number().positive().optional(),
  threads: z.number().int().min(0, 'expected kernel threads, an integer in [1, 1024] (0: the default)').max(1024, 'expected kernel threads, an integer in [1, 1024] (0: the default)').optional(),
}).loose();

type RawConfig = z.infer<typeof configSchema>;

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Validates and resolves a raw (interpolated, merged) config object.
 * @param source a name for messages (file or preset).
 * @throws Error listing every invalid key as `'<key.path>': <expected>, got <value>`.
 */
export function resolveConfig(rawIn: Record<string, unknown>, source: string | ((key: string) => string) = 'config'): LoadedConfig {
  const originOf = typeof source === 'string' ? () => source : source;
  // Where a key's value came from; a whole-value `${other}` reference is attributed to where `other` came from.
  const origin = (key: string): string => {
    const v = getPath(rawIn, key);
    const ref = typeof v === 'string' ? /^\$\{([A-Za-z0-9_.]+)\}$/.exec(v) : null;
    return ref ? `${originOf(ref[1])} (via '${key}': \${${ref[1]}})` : originOf(key);
  };
  const raw = interpolate(rawIn);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      return `${origin(key)}: '${key}': ${i.message.replace(/^Invalid input: /, '')}, got ${describe(getPath(raw, key))}`;
    });
    throw new Error(`invalid config:\n  ${lines.join('\n  ')}`);
  }
  const c: RawConfig = parsed.data;
  const warnings: string[] = [];
  const warn = (key: string, why: string) => warnings.push(`${key}: ${why}`);
  const fail = (key: string, why: string): never => { throw new Error(`${origin(key)}: '${key}': ${why}`); };
  /** parseTime with the key's origin in its errors. */
  const time = (v: string | number, key: string) => parseTime(v, `${origin(key)}: ${key}`);

  // Unknown keys (top-level and in the known sections).
  const known = new Set(Object.keys(configSchema.shape));
  for (const k of Object.keys(raw)) if (!known.has(k)) warn(k, 'unknown key, ignored');

  const tokenizer = c.tokenizer_name ?? 'bert-base-uncased';
  if (tokenizer !== 'bert-base-uncased') fail('tokenizer_name', `only 'bert-base-uncased' is available, got ${describe(tokenizer)}`);
  if (c.data_remote) warn('data_remote', 'remote streaming is not supported here; data comes from --data, MOSAICBERT_DATA, data_local or ../shared/data/wikipedia');

  // Model.
  const m = c.model ?? {};
  if (m.name !== undefined && m.name !== 'mosaic_bert') fail('model.name', `only 'mosaic_bert' is implemented, got ${describe(m.name)}`);
  if (m.pretrained_model_name && m.pretrained_model_name !== 'bert-base-uncased') {
    fail('model.pretrained_model_name', `the base config must be 'bert-base-uncased' (its shapes are the defaults), got ${describe(m.pretrained_model_name)}`);
  }
  if (m.tokenizer_name && m.tokenizer_name !== 'bert-base-uncased') fail('model.tokenizer_name', `only 'bert-base-uncased' is available, got ${describe(m.tokenizer_name)}`);
  for (const k of Object.keys(m)) {
    if (!['name', 'pretrained_model_name', 'tokenizer_name', 'model_config', 'pretrained_checkpoint'].includes(k)) warn(`model.${k}`, 'unknown key, ignored');
  }
  const mc = { ...(m.model_config ?? {}) } as Record<string, unknown>;
  const modelKeys = new Set(['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
    'hidden_act', 'hidden_dropout_prob', 'attention_probs_dropout_prob', 'type_vocab_size', 'initializer_range',
    'layer_norm_eps', 'pad_token_id', 'alibi_starting_size', 'max_position_embeddings']);
  for (const k of Object.keys(mc)) if (!modelKeys.has(k)) fail(`model.model_config.${k}`, `not a MosaicBERT config field; expected one of ${[...modelKeys].join(', ')}`);
  let model: MosaicBertConfig;
  try {
    model = configFromDict(mc, 'model.model_config');
  } catch (e) {
    // configFromDict names the field ("model.model_config: 'hidden_size' ..."); prefix where that field came from.
    const msg = (e as Error).message.replace(/^model\.model_config: '/, "'model.model_config.");
    const field = /^'(model\.model_config\.[A-Za-z_]+)'/.exec(msg)?.[1];
    throw new Error(`${field ? origin(field) : origin('model.model_config')}: ${msg}`);
  }
  if (model.vocab_size < 30522) fail('model.model_config.vocab_size', `must hold the bert-base-uncased vocab (>= 30522), got ${model.vocab_size}`);
  if (model.vocab_size % 8 !== 0) warn('model.model_config.vocab_size', `${model.vocab_size} is not a multiple of 8 (the reference pads 30522 to 30528)`);

  // Loaders.
  const loader = (key: 'train_loader' | 'eval_loader', split: string, defaults: { mlm: number; shuffle: boolean; drop_last: boolean }) => {
    const l = c[key] ?? {};
    if (l.name !== undefined && l.name !== 'text') fail(`${key}.name`, `only 'text' (MLM on a text corpus) is implemented, got ${describe(l.name)}`);
    const d = l.dataset ?? {};
    if (d.split !== undefined && d.split !== split) fail(`${key}.dataset.split`, `expected '${split}', got ${describe(d.split)}`);
    if (d.tokenizer_name && d.tokenizer_name !== 'bert-base-uncased') fail(`${key}.dataset.tokenizer_name`, `only 'bert-base-uncased', got ${describe(d.tokenizer_name)}`);
    if (d.max_seq_len !== undefined && d.max_seq_len !== (c.max_seq_len ?? 128)) {
      fail(`${key}.dataset.max_seq_len`, `must equal max_seq_len (${c.max_seq_len ?? 128}), got ${d.max_seq_len}`);
    }
    if (d.local && d.local !== c.data_local) warn(`${key}.dataset.local`, `ignored; data comes from --data, MOSAICBERT_DATA, data_local or ../shared/data/wikipedia`);
    if (d.remote) warn(`${key}.dataset.remote`, 'remote streaming is not supported here, ignored');
    for (const k of Object.keys(d)) {
      if (!['local', 'remote', 'split', 'tokenizer_name', 'max_seq_len', 'shuffle', 'mlm_probability'].includes(k)) {
        warn(`${key}.dataset.${k}`, 'streaming dataset option with no equivalent here (the prepared dataset is read directly), ignored');
      }
    }
    if (l.num_workers !== undefined) warn(`${key}.num_workers`, 'batches are built in-process (no worker processes); ignored');
    for (const k of Object.keys(l)) if (!['name', 'dataset', 'drop_last', 'num_workers'].includes(k)) warn(`${key}.${k}`, 'unknown key, ignored');
    return { mlm_probability: d.mlm_probability ?? defaults.mlm, shuffle: d.shuffle ?? defaults.shuffle, drop_last: l.drop_last ?? defaults.drop_last };
  };
  const train = loader('train_loader', 'train', { mlm: c.mlm_probability ?? 0.3, shuffle: true, drop_last: true });
  const evalL = loader('eval_loader', 'val', { mlm: 0.15, shuffle: false, drop_last: false });
  if (evalL.shuffle) warn('eval_loader.dataset.shuffle', 'evaluation always reads the validation split in order (fixed eval masks); ignored');

  // Optimizer and schedule.
  const opt = c.optimizer ?? { name: 'decoupled_adamw', lr: 5e-4 };
  if (opt.name !== 'decoupled_adamw') fail('optimizer.name', `only 'decoupled_adamw' is implemented, got ${describe(opt.name)}`);
  for (const k of Object.keys(opt)) if (!['name', 'lr', 'betas', 'eps', 'weight_decay'].includes(k)) fail(`optimizer.${k}`, 'not a decoupled_adamw option here (expected lr, betas, eps, weight_decay)');
  const sch = c.scheduler ?? { name: 'linear_decay_with_warmup', t_warmup: '0.06dur', alpha_f: 0.02 };
  if (sch.name !== 'linear_decay_with_warmup') fail('scheduler.name', `only 'linear_decay_with_warmup' is implemented, got ${describe(sch.name)}`);
  for (const k of Object.keys(sch)) if (!['name', 't_warmup', 'alpha_f'].includes(k)) fail(`scheduler.${k}`, 'not supported (expected t_warmup, alpha_f)');
  const t_warmup = time(sch.t_warmup ?? '0ba', 'scheduler.t_warmup');
  if (!['ba', 'sp', 'tok', 'dur', 'ep'].includes(t_warmup.unit)) fail('scheduler.t_warmup', `expected ba, sp, tok, ep or dur, got ${describe(sch.t_warmup)}`);

  // Algorithms.
  let grad_clip_norm = c.grad_clip_norm ?? null;
  for (const [name, v] of Object.entries(c.algorithms ?? {})) {
    if (name === 'fused_layernorm' || name === 'low_precision_layernorm') {
      warn(`algorithms.${name}`, 'only changes the LayerNorm compute dtype under bf16/fp16 autocast (the reference low-precision LayerNorm algorithm); this engine trains in fp32, so it is a no-op');
    } else if (name === 'gradient_clipping') {
      const g = (v ?? {}) as Record<string, unknown>;
      if (g.clipping_type !== 'norm' || typeof g.clipping_threshold !== 'number' || !(g.clipping_threshold > 0)) {
        fail('algorithms.gradient_clipping', `expected {clipping_type: norm, clipping_threshold: <positive number>}, got ${describe(v)}`);
      }
      grad_clip_norm = g.clipping_threshold as number;
    } else {
      fail(`algorithms.${name}`, 'not implemented, and algorithms change the training math; remove it (supported: fused_layernorm, low_precision_layernorm (no-ops in fp32), gradient_clipping)');
    }
  }

  // Batches.
  const global = c.global_train_batch_size ?? 32;
  let micro: number;
  if (c.device_train_microbatch_size === 'auto' || c.device_train_microbatch_size === undefined) {
    micro = Math.min(global, 32);
    if (c.device_train_microbatch_size === 'auto') warn('device_train_microbatch_size', `'auto' (Composer's OOM search) has no CPU equivalent; using ${micro}`);
  } else {
    micro = c.device_train_microbatch_size;
  }
  if (micro > global) fail('device_train_microbatch_size', `must be <= global_train_batch_size (${global}), got ${micro}`);

  // Precision.
  const prec = c.precision ?? 'fp32';
  if (prec !== 'fp32') warn('precision', `${describe(prec)} is not available on this CPU engine; training runs in fp32 (the reference's master weights are fp32 too)`);

  // Callbacks and loggers.
  let speed_window = 500;
  for (const [name, v] of Object.entries(c.callbacks ?? {})) {
    if (name === 'speed_monitor') {
      const w = (v as Record<string, unknown> | null)?.window_size;
      if (w !== undefined) {
        if (typeof w !== 'number' || !Number.isInteger(w) || w < 1) fail('callbacks.speed_monitor.window_size', `expected a positive integer, got ${describe(w)}`);
        speed_window = w as number;
      }
    } else if (name !== 'lr_monitor') {
      warn(`callbacks.${name}`, 'callback not available; ignored (callbacks do not change the training math)');
    }
  }
  for (const name of Object.keys(c.loggers ?? {})) warn(`loggers.${name}`, 'logger not available; every run writes a JSONL log (log.jsonl) instead');
  if (c.save_overwrite !== undefined) warn('save_overwrite', 'checkpoints are written atomically under new names; ignored');

  const max_duration = time(c.max_duration ?? '1ep', 'max_duration');
  if (max_duration.unit === 'dur') fail('max_duration', `expected ba, sp, tok, ep or a wall-clock time (s, min, h), got ${describe(c.max_duration)}`);
  if (!(max_duration.value > 0)) fail('max_duration', `the training duration must be > 0, got ${describe(c.max_duration)}`);
  if (max_duration.unit === 'ba' && !Number.isInteger(max_duration.value)) fail('max_duration', `a duration in batches must be a whole number, got ${describe(c.max_duration)}`);
  const eval_interval = time(c.eval_interval ?? 1, 'eval_interval');
  const save_interval = c.save_interval === undefined || c.save_interval === null ? null : time(c.save_interval, 'save_interval');
  const console_log_interval = time(c.console_log_interval ?? '1ba', 'console_log_interval');
  for (const [k, t] of [['eval_interval', eval_interval], ['save_interval', save_interval], ['console_log_interval', console_log_interval]] as const) {
    if (!t) continue;
    if (!['ba', 'sp', 'ep', 'dur'].includes(t.unit)) fail(k, `expected ba, sp, ep or dur, got '${t.value}${t.unit}'`);
    // An interval is at least one batch: 0 (or a fraction of a batch) would mean every step.
    if (!(t.value > 0) || (t.unit === 'ba' && !(Number.isInteger(t.value) && t.value >= 1))) {
      fail(k, `an interval must be at least one batch (e.g. '1ba', '0.25dur'), got '${t.value}${t.unit}'`);
    }
  }
  const data = c.data === undefined || c.data === null ? null : Array.isArray(c.data) ? c.data : [c.data];

  const config: TrainConfig = {
    run_name: c.run_name ?? 'mosaic-bert',
    seed: c.seed ?? 17,
    data, data_local: c.data_local ?? null,
    data_mode: c.data_mode ?? 'truncate',
    val_fraction: c.val_fraction ?? 0.01,
    max_seq_len: c.max_seq_len ?? 128,
    tokenizer_name: 'bert-base-uncased',
    model,
    pretrained_checkpoint: m.pretrained_checkpoint ?? null,
    train, eval: { ...evalL, shuffle: false },
    optimizer: { lr: opt.lr, betas: (opt.betas ?? [0.9, 0.98]) as [number, number], eps: opt.eps ?? 1e-6, weight_decay: opt.weight_decay ?? 1e-5 },
    scheduler: { t_warmup, alpha_f: sch.alpha_f ?? 0 },
    max_duration, eval_interval,
    eval_subset_num_batches: c.eval_subset_num_batches ?? -1,
    global_train_batch_size: global,
    device_train_microbatch_size: micro,
    device_eval_batch_size: c.device_eval_batch_size ?? 128,
    save_interval,
    save_num_checkpoints_to_keep: c.save_num_checkpoints_to_keep ?? -1,
    save_folder: c.save_folder ?? null,
    load_path: c.load_path ?? null,
    autoresume: c.autoresume ?? false,
    grad_clip_norm,
    progress_bar: c.progress_bar ?? true,
    log_to_console: c.log_to_console ?? true,
    console_log_interval,
    speed_window,
    mfu_peak_flops: c.mfu_peak_flops ?? 195e9,
    threads: c.threads ?? 0,
  };
  return { config, warnings, raw };
}

/** Where a config comes from: a YAML file and/or a preset, plus overrides. */
export interface ConfigSources {
  /** YAML file path (its keys override the preset's). */
  file?: string;
  /** YAML text (instead of a file). */
  yamlText?: string;
  /** A key of {@link PRESETS}. */
  preset?: string;
  /** `key.path=value` overrides, applied last. */
  overrides?: string[];
  /**
   * The command-line flag that set a key through `overrides` (e.g. `{'optimizer.lr': '--lr'}`), so that an error
   * names the flag the user typed; other overrides are named `--set <key>`.
   */
  flags?: Record<string, string>;
}

/**
 * Reads a config: preset, then YAML file, then overrides; interpolates and validates (see {@link resolveConfig}).
 * Without a file or preset the `mosaic-bert-base` recipe is the base.
 * @throws Error for an unknown preset, unreadable or invalid YAML, or an invalid key.
 */
export function loadConfig(src: ConfigSources): LoadedConfig {
  let raw: Record<string, unknown> = {};
  let source = 'config';
  let fileDoc: Record<string, unknown> | null = null;
  if (src.preset !== undefined) {
    const p = PRESETS[src.preset];
    if (!p) throw new Error(`--preset: unknown preset '${src.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
    raw = structuredClone(p);
    source = `preset ${src.preset}`;
  } else if (src.file === undefined && src.yamlText === undefined) {
    raw = structuredClone(PRESETS['mosaic-bert-base']);
  }
  if (src.file !== undefined || src.yamlText !== undefined) {
    let text = src.yamlText;
    if (text === undefined) {
      try { text = readFileSync(src.file!, 'utf8'); } catch (e) { throw new Error(`${src.file}: cannot read (${(e as Error).message})`); }
    }
    let doc: unknown;
    try { doc = parseYaml(text); } catch (e) { throw new Error(`${src.file ?? 'yaml'}: invalid YAML: ${(e as Error).message}`); }
    if (doc === null || doc === undefined) {
      throw new Error(`${src.file ?? 'yaml'}: the config file is empty (no keys); give the recipe's keys, or use --preset alone`);
    }
    if (!isObj(doc)) throw new Error(`${src.file ?? 'yaml'}: the top level must be a mapping`);
    raw = deepMerge(raw, doc);
    fileDoc = doc;
    source = src.file ?? 'yaml';
  }
  raw = applyOverrides(raw, src.overrides ?? []);
  // Who set each key: the last override touching it (a flag's name, or --set), else the file, else the preset.
  const setters = (src.overrides ?? []).map((ov) => ov.slice(0, Math.max(0, ov.indexOf('='))).trim()).filter((k) => k);
  const related = (a: string, b: string) => a === b || a.startsWith(b + '.') || b.startsWith(a + '.');
  const originOf = (key: string): string => {
    for (let i = setters.length - 1; i >= 0; i--) {
      if (related(setters[i], key)) return src.flags?.[setters[i]] ?? `--set ${setters[i]}`;
    }
    if (fileDoc && getPath(fileDoc, key) !== undefined) return source;
    return source === (src.file ?? 'yaml') && src.preset !== undefined ? `preset ${src.preset}` : source;
  };
  return resolveConfig(raw, originOf);
}
