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
 * Removing an old checkpoint first renames it to `.trash-<name>-<pid>` (atomic), so a crash during the removal
 * leaves no half-deleted `ba<step>` folder; {@link removeIncompleteCheckpoints} clears what a crash left (`.tmp-*`,
 * `.trash-*`, `ba<step>` folders without COMPLETE from older versions), and {@link findResumeCheckpoint} picks the
 * newest checkpoint that passes {@link verifyCheckpoint}, naming what was wrong with any newer one.
 */
import type { ResumeFingerprint } from './resume.js';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loadStateDict, stateDict } from '../model/state_dict.js';
import type { ParamStore } from '../model/params.js';
import type { DecoupledAdamW } from './decoupled_adamw.js';
import type { LoaderState } from '../data/loader.js';
import { writeFileSynced } from '../data/atomic.js';
import { faultPoint } from './fault.js';

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
  config: unknown, extra: CheckpointExtras = {}): string {
  mkdirSync(folder, { recursive: true });
  const name = checkpointName(state.step);
  const tmp = join(folder, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    writeFileSynced(join(tmp, 'model.safetensors'), serializeSafetensors(stateDict(params), { format: 'pt', step: String(state.step) }));
    faultPoint('checkpoint-write', state.step);
    const moments = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    for (const s of params.specs) {
      moments.set(`exp_avg.${s.name}`, { dtype: 'F32', shape: s.shape, data: opt.expAvg.get(s.name) });
      moments.set(`exp_avg_sq.${s.name}`, { dtype: 'F32', shape: s.shape, data: opt.expAvgSq.get(s.name) });
    }
    writeFileSynced(join(tmp, 'optimizer.safetensors'), serializeSafetensors(moments, { t: String(opt.t) }));
    if (extra.masks?.size) {
      const t = new Map([...extra.masks].map(([n, m]) => [n, { dtype: 'I8' as const, shape: [m.length],
        data: new Int8Array(m.buffer, m.byteOffset, m.length) }]));
      writeFileSynced(join(tmp, MASKS_FILE), serializeSafetensors(t, { format: 'mosaicbert-pruning-masks' }));
    }
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

/** The pruning masks of a checkpoint (gradual pruning): `<linear>.weight` → int8 keep mask (1 keep, 0 pruned). */
export const MASKS_FILE = 'masks.safetensors';

/** What a checkpoint may carry besides weights, moments and state. */
export interface CheckpointExtras {
  /** Pruning keep masks by weight name (written to {@link MASKS_FILE}). */
  masks?: Map<string, Uint8Array>;
}

/**
 * The pruning masks saved in checkpoint `dir`, or null when it has none.
 * @throws Error naming the file when it is damaged or holds a value other than 0 and 1.
 */
export function readCheckpointMasks(dir: string): Map<string, Uint8Array> | null {
  const p = join(dir, MASKS_FILE);
  if (!existsSync(p)) return null;
  const out = new Map<string, Uint8Array>();
  for (const [name, t] of readSafetensors(p).tensors) {
    const m = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length);
    if (t.dtype !== 'I8' || m.some((v) => v > 1)) throw new Error(`${p}: '${name}' is not a 0/1 int8 mask`);
    out.set(name, m.slice());
  }
  return out;
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

/**
 * Removes a checkpoint folder so that a crash part-way leaves no `ba<step>` folder: renames it to
 * `.trash-<name>-<pid>` first, then deletes that.
 */
export function removeCheckpoint(dir: string): void {
  const parent = dirname(dir);
  const trash = join(parent, `.trash-${basename(dir)}-${process.pid}`);
  rmSync(trash, { recursive: true, force: true });
  renameSync(dir, trash);
  fsyncDir(parent);
  const files = readdirSync(trash);
  for (let i = 0; i < files.length; i++) {
    rmSync(join(trash, files[i]), { recursive: true, force: true });
    if (i === 0) faultPoint('checkpoint-remove', Number(/^ba(\d+)$/.exec(basename(dir))?.[1] ?? -1));
  }
  rmSync(trash, { recursive: true, force: true });
}

/**
 * Deletes what interrupted saves and removals left in a checkpoint folder: temporary folders of other processes
 * (`.tmp-*`), half-removed checkpoints (`.trash-*`) and `ba<step>` folders without COMPLETE. The trainer calls it
 * at the start and at the end of a run.
 * @returns the paths removed.
 */
export function removeIncompleteCheckpoints(folder: string): string[] {
  if (!existsSync(folder)) return [];
  const gone: string[] = [];
  for (const e of readdirSync(folder, { withFileTypes: true })) {
    const p = join(folder, e.name);
    const stale = (e.name.startsWith('.tmp-') || e.name.startsWith('.trash-')) && !e.name.endsWith(`-${process.pid}`);
    const incomplete = e.isDirectory() && /^ba\d+$/.test(e.name) && !existsSync(join(p, 'COMPLETE'));
    if (stale || incomplete) {
      rmSync(p, { recursive: true, force: true });
      gone.push(p);
    }
  }
  if (gone.length) fsyncDir(folder);
  return gone;
}

/** Deletes all but the newest `keep` complete checkpoints (keep < 0: none deleted), and stale temporary folders. */
export function pruneCheckpoints(folder: string, keep: number): string[] {
  if (!existsSync(folder)) return [];
  removeIncompleteCheckpoints(folder);
  if (keep < 0) return [];
  const all = listCheckpoints(folder);
  const gone = all.slice(0, Math.max(0, all.length - keep)).map((c) => c.dir);
  for (const d of gone) removeCheckpoint(d);
  return gone;
}

/**
 * Checks a safetensors file without reading its tensors: the header parses as JSON, every tensor's data offsets
 * fit its dtype and shape, and the file is exactly as long as the header says (a truncated or padded file fails).
 * @returns null when intact, else what is wrong (naming the file).
 */
export function verifySafetensorsFile(path: string): string | null {
  if (!existsSync(path)) return `${path}: missing`;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) return `${path}: truncated (${size} bytes)`;
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const hlen = Number(lenBuf.readBigUInt64LE(0));
    if (hlen > size - 8) return `${path}: truncated (header of ${hlen} bytes, file of ${size})`;
    const hb = Buffer.alloc(hlen);
    readSync(fd, hb, 0, hlen, 8);
    let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
    try { header = JSON.parse(hb.toString('utf8')); } catch (e) { return `${path}: header is not valid JSON (${(e as Error).message})`; }
    const width: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };
    let end = 0;
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const [a, b] = t.data_offsets ?? [NaN, NaN];
      const numel = (t.shape ?? []).reduce((x, y) => x * y, 1);
      if (!(a >= 0 && b - a === numel * (width[t.dtype ?? ''] ?? NaN))) return `${path}: tensor '${name}' has a bad header entry`;
      end = Math.max(end, b);
    }
    if (8 + hlen + end !== size) return `${path}: ${size} bytes, the header describes ${8 + hlen + end} (truncated or damaged)`;
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks a checkpoint folder without loading it: COMPLETE present, state.json parses and holds a state with a
 * step, both safetensors files pass {@link verifySafetensorsFile}.
 * @returns null when intact, else what is wrong (naming the file).
 */
export function verifyCheckpoint(dir: string): string | null {
  if (!existsSync(join(dir, 'COMPLETE'))) return `${dir}: no COMPLETE marker (an interrupted save)`;
  try {
    const meta = readCheckpointState(dir);
    if (typeof meta.state?.step !== 'number') return `${join(dir, 'state.json')}: no state.step`;
  } catch (e) {
    return (e as Error).message;
  }
  return verifySafetensorsFile(join(dir, 'model.safetensors')) ?? verifySafetensorsFile(join(dir, 'optimizer.safetensors'));
}

/**
 * The newest checkpoint of `folder` that passes {@link verifyCheckpoint}, and the newer ones that did not (each
 * with what was wrong, for a warning). `dir` is null when no checkpoint is intact.
 */
export function findResumeCheckpoint(folder: string): { dir: string | null; step: number; skipped: Array<{ dir: string; problem: string }> } {
  const skipped: Array<{ dir: string; problem: string }> = [];
  const all = listCheckpoints(folder);
  for (let i = all.length - 1; i >= 0; i--) {
    const problem = verifyCheckpoint(all[i].dir);
    if (!problem) return { dir: all[i].dir, step: all[i].step, skipped };
    skipped.push({ dir: all[i].dir, problem });
  }
  return { dir: null, step: 0, skipped };
}

/**
 * Reads `<dir>/state.json` of a checkpoint.
 * @throws Error naming the file when it cannot be read, is not JSON (e.g. truncated) or holds no state object.
 */
export function readCheckpointState(dir: string): { state: TrainerState; config: unknown } {
  const p = join(dir, 'state.json');
  let text: string;
  try { text = readFileSync(p, 'utf8'); } catch (e) { throw new Error(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  try {
    const v = JSON.parse(text) as { state: TrainerState; config: unknown };
    if (!v || typeof v !== 'object' || !v.state || typeof v.state !== 'object') throw new Error('no "state" object');
    return v;
  } catch (e) {
    throw new Error(`${p}: invalid checkpoint state (${(e as Error).message}); the file is damaged or truncated`);
  }
}

/**
 * Loads a checkpoint folder into `params` and `opt` (moments and t).
 * @throws Error naming the folder when it is incomplete, the file when one is unreadable or damaged (e.g. a
 *   truncated state.json), or a tensor when its name or shape does not match.
 */
export function loadCheckpoint(dir: string, params: ParamStore, opt: DecoupledAdamW | null): LoadedCheckpoint {
  if (!existsSync(join(dir, 'COMPLETE'))) throw new Error(`${dir}: not a complete checkpoint (no COMPLETE marker)`);
  const meta = readCheckpointState(dir);
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
