/**
 * Training checkpoints: one folder per save, `<folder>/ba<step>/`, holding
 * - `model.safetensors`: the weights under the reference's state-dict names (the `mosaicml/mosaic-bert-base` state dict; the tied
 *   decoder weight is the word-embedding matrix and is not stored twice);
 * - `optimizer.safetensors`: DecoupledAdamW moments as `exp_avg.<name>` / `exp_avg_sq.<name>`;
 * - `state.json`: step, samples, tokens, optimizer step t, RNG state (seed + counters: dropout masks are Philox
 *   keyed by (seed, step) and MLM masks by (seed, batch counter), so the counters are the whole RNG state), the
 *   train loader position, the resolved total duration and the config;
 * - `COMPLETE`: written last.
 * A save writes a temporary folder (each file fsynced), then renames it into place and fsyncs the parent, so a
 * crash leaves either the previous checkpoints or a complete new one; folders without COMPLETE are ignored.
 */
import type { ResumeFingerprint } from './resume.js';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loadStateDict, stateDict } from '../model/state_dict.js';
import type { ParamStore } from '../model/params.js';
import type { DecoupledAdamW } from './decoupled_adamw.js';
import type { LoaderState } from '../data/loader.js';
import { writeFileSynced } from '../data/atomic.js';

/** The trainer's counters, saved with every checkpoint. */
export interface TrainerState {
  /** Optimizer steps done (batches). */
  step: number;
  /** Samples consumed. */
  samples: number;
  /** Non-padding tokens consumed. */
  tokens: number;
  /** Optimizer step counter t (== step unless the optimizer was restored separately). */
  optimizer_t: number;
  /** RNG: the seed; dropout counter = step * microbatches + microbatch, MLM masks come from the loader counter. */
  rng: { seed: number; dropout_counter_base: number } & Partial<ResumeFingerprint>;
  loader: LoaderState;
  /** Total duration in the schedule's unit ('ba' or 'tok'), fixed at the start (wall-clock budgets included). */
  total: { value: number; unit: 'ba' | 'tok' };
  /** Wall seconds of training so far (informational). */
  elapsed_s: number;
}

/** What {@link loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  dir: string;
  state: TrainerState;
  config: unknown;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse directory fsync */ }
}

/** Folder name of the checkpoint after `step` batches. */
export function checkpointName(step: number): string {
  return `ba${step}`;
}

/**
 * Writes a checkpoint atomically into `folder/ba<step>` (replacing an existing one of the same step).
 * @returns the checkpoint folder.
 */
export function saveCheckpoint(folder: string, params: ParamStore, opt: DecoupledAdamW, state: TrainerState,
  config: unknown): string {
  mkdirSync(folder, { recursive: true });
  const name = checkpointName(state.step);
  const tmp = join(folder, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    writeFileSynced(join(tmp, 'model.safetensors'), serializeSafetensors(stateDict(params), { format: 'pt', step: String(state.step) }));
    const moments = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    for (const s of params.specs) {
      moments.set(`exp_avg.${s.name}`, { dtype: 'F32', shape: s.shape, data: opt.expAvg.get(s.name) });
      moments.set(`exp_avg_sq.${s.name}`, { dtype: 'F32', shape: s.shape, data: opt.expAvgSq.get(s.name) });
    }
    writeFileSynced(join(tmp, 'optimizer.safetensors'), serializeSafetensors(moments, { t: String(opt.t) }));
    writeFileSynced(join(tmp, 'state.json'), JSON.stringify({ format: 'mosaicbert-checkpoint', version: 1, state, config }, null, 1) + '\n');
    writeFileSynced(join(tmp, 'COMPLETE'), `${state.step}\n`);
    fsyncDir(tmp);
    const dst = join(folder, name);
    rmSync(dst, { recursive: true, force: true });
    renameSync(tmp, dst);
    fsyncDir(folder);
    return dst;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Complete checkpoints in `folder`, oldest first (by step). */
export function listCheckpoints(folder: string): Array<{ dir: string; step: number }> {
  if (!existsSync(folder)) return [];
  const out: Array<{ dir: string; step: number }> = [];
  for (const e of readdirSync(folder, { withFileTypes: true })) {
    const m = /^ba(\d+)$/.exec(e.name);
    if (e.isDirectory() && m && existsSync(join(folder, e.name, 'COMPLETE'))) out.push({ dir: join(folder, e.name), step: Number(m[1]) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Deletes all but the newest `keep` complete checkpoints (keep < 0: none deleted), and stale temporary folders. */
export function pruneCheckpoints(folder: string, keep: number): string[] {
  if (!existsSync(folder)) return [];
  for (const e of readdirSync(folder)) if (e.startsWith('.tmp-') && !e.endsWith(`-${process.pid}`)) rmSync(join(folder, e), { recursive: true, force: true });
  if (keep < 0) return [];
  const all = listCheckpoints(folder);
  const gone = all.slice(0, Math.max(0, all.length - keep)).map((c) => c.dir);
  for (const d of gone) rmSync(d, { recursive: true, force: true });
  return gone;
}

/**
 * Loads a checkpoint folder into `params` and `opt` (moments and t).
 * @throws Error naming the folder when it is incomplete, or a tensor when its name or shape does not match.
 */
export function loadCheckpoint(dir: string, params: ParamStore, opt: DecoupledAdamW | null): LoadedCheckpoint {
  if (!existsSync(join(dir, 'COMPLETE'))) throw new Error(`${dir}: not a complete checkpoint (no COMPLETE marker)`);
  const meta = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { state: TrainerState; config: unknown };
  const w = readSafetensors(join(dir, 'model.safetensors'));
  const rep = loadStateDict(params, w.tensors, join(dir, 'model.safetensors'));
  if (rep.missing.length) throw new Error(`${dir}/model.safetensors: missing ${rep.missing.join(', ')}`);
  if (opt) {
    const o = readSafetensors(join(dir, 'optimizer.safetensors'));
    for (const s of params.specs) {
      for (const [prefix, store] of [['exp_avg', opt.expAvg], ['exp_avg_sq', opt.expAvgSq]] as const) {
        const t = o.tensors.get(`${prefix}.${s.name}`);
        if (!t || t.data.length !== s.size) throw new Error(`${dir}/optimizer.safetensors: '${prefix}.${s.name}' missing or of the wrong size`);
        store.get(s.name).set(t.data as Float32Array);
      }
    }
    opt.t = meta.state.optimizer_t;
  }
  return { dir, state: meta.state, config: meta.config };
}
