/**
 * SparseML recipe files (the published oBERT recipes, ../shared/reference/sparseml-recipes/) read as they are:
 * YAML whose modifiers carry custom tags (`!OBSPruningModifier`, `!GMPruningModifier`,
 * `!LearningRateFunctionModifier`, `!DistillationModifier`, `!ConstantPruningModifier`, `!EpochRangeModifier`),
 * listed under any top-level key ending in `modifiers` (`modifiers`, `training_modifiers`, `pruning_modifiers`,
 * `distillation_modifiers`, ...). The tags are registered with the `yaml` package's `customTags`; each modifier's
 * fields are validated with zod. A bad field is an error naming the file, its line, the modifier and the key;
 * what this package reads but cannot apply is returned in `warnings`.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { z } from 'zod';
import type { InterFunc } from './schedule.js';
import type { MaskType } from './masks.js';

export type { MaskType };

/** The modifier tags this package knows. */
export const MODIFIER_TAGS = ['EpochRangeModifier', 'LearningRateFunctionModifier', 'OBSPruningModifier',
  'GMPruningModifier', 'ConstantPruningModifier', 'DistillationModifier'] as const;
export type ModifierTag = typeof MODIFIER_TAGS[number];


export interface PruningModifier {
  kind: 'obs' | 'gmp';
  /** `params` entries (exact names or `re:` patterns), classic-BERT names allowed (see targets.ts). */
  params: string[];
  initSparsity: number;
  finalSparsity: number;
  startEpoch: number;
  endEpoch: number;
  updateFrequency: number;
  interFunc: InterFunc;
  globalSparsity: boolean;
  maskType: MaskType;
  /** OBS only (GMP: null). */
  numGrads: number | null;
  damp: number | null;
  fisherBlockSize: number | null;
  gradBatchSize: number | null;
  numRecomputations: number;
}

export interface LearningRateFunction {
  startEpoch: number;
  endEpoch: number;
  lrFunc: 'linear' | 'cyclic_linear' | 'cosine' | 'exponential';
  initLr: number;
  finalLr: number;
  cycleEpochs: number | null;
}

export interface Recipe {
  file: string;
  /**
   * The unit of every time in the recipe: 'ep' (epochs of the run's training set: numbers, or `'<n>ep'`) or 'ba'
   * (optimizer steps: `'<n>ba'`). Start/end/update_frequency/cycle_epochs fields hold numbers in this unit.
   */
  timeUnit: 'ep' | 'ba';
  epochRange: { startEpoch: number; endEpoch: number } | null;
  learningRates: LearningRateFunction[];
  pruning: PruningModifier[];
  /** `ConstantPruningModifier`: masks fixed on these params (sparse transfer). */
  constantPruning: Array<{ params: string[]; startEpoch: number; endEpoch: number }>;
  distillation: { hardness: number; temperature: number; outputKeys: string[] } | null;
  warnings: string[];
}

/**
 * A recipe time: a number of epochs (SparseML's form), or a string `'<n>ep'` (epochs) or `'<n>ba'` (optimizer steps,
 * this package's batch unit). One recipe uses one unit throughout ({@link Recipe.timeUnit}).
 */
const TIME_RE = /^(\d+(?:\.\d+)?)(ep|ba)$/;
const timeStr = z.string().regex(TIME_RE, "expected a number of epochs or a string like '1.5ep' or '250ba'");
const epoch = z.union([z.number().min(0), timeStr]);
const period = z.union([z.number().positive(), timeStr.refine((t) => Number(TIME_RE.exec(t)![1]) > 0, 'must be > 0')]);
const TIME_KEYS = ['start_epoch', 'end_epoch', 'update_frequency', 'cycle_epochs'] as const;
const frac = z.number().min(0).max(1);
const params = z.array(z.string().min(1)).min(1);

// Keys SparseML accepts that this package reads and ignores (a warning names them).
const IGNORED: Record<ModifierTag, readonly string[]> = {
  EpochRangeModifier: [],
  LearningRateFunctionModifier: ['param_groups', 'update_frequency'],
  OBSPruningModifier: ['leave_enabled', 'log_types', 'end_comparator', 'mask_creator'],
  GMPruningModifier: ['leave_enabled', 'log_types', 'end_comparator', 'phased', 'score_type'],
  ConstantPruningModifier: ['log_types'],
  DistillationModifier: ['teacher_input_keys', 'update_frequency'],
};

const SCHEMAS = {
  EpochRangeModifier: z.object({ start_epoch: epoch, end_epoch: epoch }).strict(),
  LearningRateFunctionModifier: z.object({
    start_epoch: epoch, end_epoch: epoch, lr_func: z.enum(['linear', 'cyclic_linear', 'cosine', 'exponential']),
    init_lr: z.number().positive(), final_lr: z.number().nonnegative(), cycle_epochs: period.optional(),
  }).strict(),
  OBSPruningModifier: z.object({
    params, init_sparsity: frac, final_sparsity: frac, start_epoch: epoch, end_epoch: epoch,
    update_frequency: period, inter_func: z.enum(['cubic', 'linear']).default('cubic'),
    global_sparsity: z.boolean().default(true), mask_type: z.enum(['unstructured', 'block4']).default('unstructured'),
    num_grads: z.number().int().positive().default(1024), damp: z.number().positive().default(1e-7),
    fisher_block_size: z.number().int().positive().default(1),
    grad_sampler_kwargs: z.object({ batch_size: z.number().int().positive().optional() }).catchall(z.unknown()).optional(),
    num_recomputations: z.number().int().positive().default(1),
  }).strict(),
  GMPruningModifier: z.object({
    params, init_sparsity: frac, final_sparsity: frac, start_epoch: epoch, end_epoch: epoch,
    update_frequency: period, inter_func: z.enum(['cubic', 'linear']).default('cubic'),
    global_sparsity: z.boolean().default(false), mask_type: z.enum(['unstructured', 'block4']).default('unstructured'),
  }).strict(),
  ConstantPruningModifier: z.object({ params, start_epoch: epoch, end_epoch: epoch }).strict(),
  DistillationModifier: z.object({
    hardness: frac, temperature: z.number().positive(), distill_output_keys: z.array(z.string()).optional(),
    start_epoch: epoch.optional(), end_epoch: z.number().optional(),
  }).strict(),
} satisfies Record<ModifierTag, z.ZodType>;

/** The first time unit a recipe used, and where (to name both sides of a mix). */
const UNIT_SEEN = new WeakMap<Recipe, { unit: 'ep' | 'ba'; at: string }>();

/** A tagged modifier as the YAML layer resolves it (before validation). */
class RawModifier {
  constructor(readonly tag: ModifierTag, readonly fields: unknown, readonly offset: number,
    readonly keyOffsets: Map<string, number>) {}
}

function keyOffsets(map: YAMLMap.Parsed | YAMLSeq.Parsed): Map<string, number> {
  const out = new Map<string, number>();
  for (const it of map.items as unknown[]) {
    const key = (it as { key?: { value?: unknown; range?: [number, number, number] } }).key;
    if (key?.range && typeof key.value === 'string') out.set(key.value, key.range[0]);
  }
  return out;
}

/** The error of a bad recipe: `file:line: <section>[i] !Tag: key: problem`. */
export class RecipeError extends Error {
  constructor(message: string) { super(message); this.name = 'RecipeError'; }
}

/** Parses a recipe's text. `file` names it in messages. @throws RecipeError on a bad field or malformed YAML. */
export function parseRecipe(text: string, file = '<recipe>'): Recipe {
  const lc = new LineCounter();
  const customTags = MODIFIER_TAGS.map((tag) => ({
    tag: `!${tag}`, collection: 'map' as const,
    resolve: (map: YAMLMap.Parsed | YAMLSeq.Parsed) => new RawModifier(tag, map.toJSON(), map.range?.[0] ?? 0, keyOffsets(map)),
  }));
  const doc = parseDocument(text, { customTags, lineCounter: lc });
  const lineOf = (offset: number) => lc.linePos(offset).line;
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new RecipeError(`${file}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const warnings: string[] = doc.warnings.map((w) => `${file}:${w.linePos?.[0].line ?? '?'}: ` + (w.code === 'TAG_RESOLVE_FAILED'
    ? `${/!\S+/.exec(w.message)?.[0] ?? 'a tag'} is not a modifier this package applies; ignored` : w.message.split('\n')[0]));
  const unresolved = doc.warnings.some((w) => w.code === 'TAG_RESOLVE_FAILED');
  const root = doc.toJS() as unknown;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new RecipeError(`${file}: a recipe is a YAML mapping of modifier lists`);
  const recipe: Recipe = { file, timeUnit: 'ep', epochRange: null, learningRates: [], pruning: [], constantPruning: [], distillation: null, warnings };
  for (const [section, list] of Object.entries(root as Record<string, unknown>)) {
    if (!section.endsWith('modifiers')) { warnings.push(`${file}: top-level key '${section}' is not a modifier list; ignored`); continue; }
    if (!Array.isArray(list)) throw new RecipeError(`${file}: '${section}' must be a list of modifiers`);
    list.forEach((item, i) => {
      if (!(item instanceof RawModifier)) {
        if (!unresolved) warnings.push(`${file}: ${section}[${i}] is not a known modifier; ignored`);
        return;
      }
      const where = (key?: string) => `${file}:${lineOf(item.keyOffsets.get(key ?? '') ?? item.offset)}: ${section}[${i}] !${item.tag}`;
      addModifier(recipe, item, where);
    });
  }
  return recipe;
}

function addModifier(recipe: Recipe, item: RawModifier, where: (key?: string) => string): void {
  const { tag } = item;
  const fields = { ...(item.fields as Record<string, unknown> ?? {}) };
  for (const k of IGNORED[tag]) {
    if (k in fields) { recipe.warnings.push(`${where(k)}: '${k}' is not applied by this package; ignored`); delete fields[k]; }
  }
  const r = SCHEMAS[tag].safeParse(fields);
  if (!r.success) {
    const iss = r.error.issues[0];
    const key = iss.code === 'unrecognized_keys' ? (iss as { keys: string[] }).keys.join(', ') : iss.path.join('.');
    const msg = iss.code === 'unrecognized_keys' ? 'unknown key' : iss.message;
    throw new RecipeError(`${where(key.split(', ')[0].split('.')[0])}: ${key || '(fields)'}: ${msg}`);
  }
  const v = r.data as Record<string, any>;  // eslint-disable-line @typescript-eslint/no-explicit-any
  // Times: strings '<n>ep' / '<n>ba' become numbers in the recipe's one unit.
  for (const k of TIME_KEYS) {
    const t = v[k];
    if (t === undefined) continue;
    const m = typeof t === 'string' ? TIME_RE.exec(t)! : null;
    const unit = m ? m[2] as 'ep' | 'ba' : 'ep';
    const seen = UNIT_SEEN.get(recipe);
    if (seen && seen.unit !== unit) {
      throw new RecipeError(`${where(k)}: ${k}: '${t}' is in ${unit === 'ba' ? 'batches' : 'epochs'}, but ${seen.at} is in ` +
        `${seen.unit === 'ba' ? 'batches' : 'epochs'} (one unit per recipe)`);
    }
    if (!seen) UNIT_SEEN.set(recipe, { unit, at: `${where(k)}: ${k}` });
    recipe.timeUnit = unit;
    v[k] = m ? Number(m[1]) : t;
  }
  const order = (a: number, b: number, ka: string, kb: string) => {
    if (b < a) throw new RecipeError(`${where(kb)}: ${kb}: ${b} is before ${ka} (${a})`);
  };
  switch (tag) {
    case 'EpochRangeModifier':
      order(v.start_epoch, v.end_epoch, 'start_epoch', 'end_epoch');
      recipe.epochRange = { startEpoch: v.start_epoch, endEpoch: v.end_epoch };
      break;
    case 'LearningRateFunctionModifier':
      order(v.start_epoch, v.end_epoch, 'start_epoch', 'end_epoch');
      if (v.lr_func === 'cyclic_linear' && v.cycle_epochs === undefined) throw new RecipeError(`${where('lr_func')}: cycle_epochs: required by lr_func cyclic_linear`);
      recipe.learningRates.push({ startEpoch: v.start_epoch, endEpoch: v.end_epoch, lrFunc: v.lr_func, initLr: v.init_lr,
        finalLr: v.final_lr, cycleEpochs: v.cycle_epochs ?? null });
      break;
    case 'OBSPruningModifier':
    case 'GMPruningModifier': {
      order(v.start_epoch, v.end_epoch, 'start_epoch', 'end_epoch');
      const obs = tag === 'OBSPruningModifier';
      if (obs && v.mask_type === 'block4' && v.fisher_block_size % 4 !== 0) {
        throw new RecipeError(`${where('fisher_block_size')}: fisher_block_size: ${v.fisher_block_size} must be a multiple of 4 with mask_type block4`);
      }
      const extra = obs ? Object.keys(v.grad_sampler_kwargs ?? {}).filter((k) => k !== 'batch_size') : [];
      for (const k of extra) recipe.warnings.push(`${where('grad_sampler_kwargs')}: grad_sampler_kwargs.${k} is not applied by this package; ignored`);
      recipe.pruning.push({
        kind: obs ? 'obs' : 'gmp', params: v.params, initSparsity: v.init_sparsity, finalSparsity: v.final_sparsity,
        startEpoch: v.start_epoch, endEpoch: v.end_epoch, updateFrequency: v.update_frequency, interFunc: v.inter_func,
        globalSparsity: v.global_sparsity, maskType: v.mask_type, numGrads: obs ? v.num_grads : null,
        damp: obs ? v.damp : null, fisherBlockSize: obs ? v.fisher_block_size : null,
        gradBatchSize: obs ? (v.grad_sampler_kwargs?.batch_size ?? null) : null, numRecomputations: obs ? v.num_recomputations : 1,
      });
      break;
    }
    case 'ConstantPruningModifier':
      recipe.constantPruning.push({ params: v.params, startEpoch: v.start_epoch, endEpoch: v.end_epoch });
      break;
    case 'DistillationModifier': {
      if (recipe.distillation) throw new RecipeError(`${where()}: a second DistillationModifier (one teacher per recipe)`);
      const keys: string[] = v.distill_output_keys ?? ['logits'];
      const other = keys.filter((k) => k !== 'logits');
      if (other.length) {
        recipe.warnings.push(`${where('distill_output_keys')}: distill_output_keys ${other.join(', ')}: this package's models have one output ` +
          `('logits': MLM or classification); distillation uses 'logits' only`);
      }
      recipe.distillation = { hardness: v.hardness, temperature: v.temperature, outputKeys: keys };
      break;
    }
  }
}

/** Reads and parses a recipe file. @throws RecipeError naming the file on a read error or a bad field. */
export function loadRecipe(path: string): Recipe {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new RecipeError(`${path}: cannot read the recipe (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseRecipe(text, path);
}
