/**
 * What is pruned: the `Linear` weights selected by the recipes' `params` (SparseML: an exact name, or `re:` + a
 * Python regular expression matched at the start of the parameter name, as `re.match` does).
 *
 * The recipes name classic-BERT (HF) parameters. MosaicBERT's projections answer to those names too: the fused
 * `attention.self.Wqkv` to `attention.self.{query,key,value}.weight`, `mlp.gated_layers` to
 * `intermediate.dense.weight`, `mlp.wo` to `output.dense.weight` (see ../shared/docs/mosaicbert.md); classic BERT's
 * fused q/k/v `Linear` (named `attention.self.qkv`) answers to `query/key/value`. A fused projection is one
 * `Linear`, so naming any of q, k, v selects all three (a warning says so when only some were named).
 */
import type { Linear } from '../model/layers/linear.js';

/** The default: every encoder projection (the paper's setting: Q, K, V, attention output, FFN in, FFN out). */
export const DEFAULT_PRUNE_PARAMS_MOSAICBERT: readonly string[] = [
  're:bert.encoder.layer.*.attention.self.Wqkv.weight',
  're:bert.encoder.layer.*.attention.output.dense.weight',
  're:bert.encoder.layer.*.mlp.gated_layers.weight',
  're:bert.encoder.layer.*.mlp.wo.weight',
];

export const DEFAULT_PRUNE_PARAMS_BERT: readonly string[] = [
  're:bert.encoder.layer.*.attention.self.query.weight',
  're:bert.encoder.layer.*.attention.self.key.weight',
  're:bert.encoder.layer.*.attention.self.value.weight',
  're:bert.encoder.layer.*.attention.output.dense.weight',
  're:bert.encoder.layer.*.intermediate.dense.weight',
  're:bert.encoder.layer.*.output.dense.weight',
];

/** The weight names a Linear answers to: its own (`<name>.weight`) and the classic-BERT aliases. */
export function weightAliases(linear: Pick<Linear, 'name'>): string[] {
  const n = linear.name, names = [`${n}.weight`];
  const fused = /^(.*\.attention\.self)\.(Wqkv|qkv)$/.exec(n);
  if (fused) for (const p of ['query', 'key', 'value']) names.push(`${fused[1]}.${p}.weight`);
  const gated = /^(.*)\.mlp\.gated_layers$/.exec(n);
  if (gated) names.push(`${gated[1]}.intermediate.dense.weight`);
  const wo = /^(.*)\.mlp\.wo$/.exec(n);
  if (wo) names.push(`${wo[1]}.output.dense.weight`);
  return names;
}

/** A `params` entry as a matcher: `re:<pattern>` (anchored at the start, like Python's re.match) or an exact name. */
export function paramMatcher(entry: string): (name: string) => boolean {
  if (entry.startsWith('re:')) {
    let re: RegExp;
    try { re = new RegExp(`^(?:${entry.slice(3)})`); } catch (e) {
      throw new Error(`params: '${entry}' is not a valid regular expression (${(e as Error).message})`);
    }
    return (name) => re.test(name);
  }
  return (name) => name === entry;
}

export interface TargetSelection {
  /** The selected Linears, in model order. */
  linears: Linear[];
  /** Notes for the user (partial selection of a fused projection). */
  warnings: string[];
}

/**
 * The Linears whose weight (or an alias, {@link weightAliases}) matches one of `params`.
 * @throws Error naming each entry that matches nothing (SparseML refuses those too).
 */
export function selectTargets(linears: Linear[], params: readonly string[]): TargetSelection {
  const matchers = params.map((p) => ({ p, f: paramMatcher(p), hits: 0 }));
  const chosen: Linear[] = [], warnings: string[] = [];
  for (const l of linears) {
    const names = weightAliases(l);
    const matched = names.filter((n) => matchers.some((m) => m.f(n)));
    for (const m of matchers) if (names.some((n) => m.f(n))) m.hits++;
    if (matched.length === 0) continue;
    chosen.push(l);
    const qkv = names.filter((n) => /\.(query|key|value)\.weight$/.test(n));
    const own = matched.includes(names[0]);
    const partial = qkv.length > 0 && !own && qkv.some((n) => !matched.includes(n));
    if (partial) warnings.push(`${l.name}: q, k and v are one fused projection; only ${matched.map((n) => n.split('.').at(-2)).join(', ')} was named, all three are pruned`);
  }
  const missing = matchers.filter((m) => m.hits === 0).map((m) => `'${m.p}'`);
  if (missing.length) throw new Error(`params: ${missing.join(', ')} match${missing.length === 1 ? 'es' : ''} no weight of the model`);
  return { linears: chosen, warnings };
}
