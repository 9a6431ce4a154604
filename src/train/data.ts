/**
 * Finding and preparing pretraining data. Order: `--data`, then env `MOSAICBERT_DATA` (paths separated by the
 * platform's path delimiter), then the config's `data`, then the reference's `data_local` when it exists, then
 * `../shared/data/wikipedia` relative to the current directory when it exists; otherwise an error saying how to
 * get data. A folder holding `train/index.json` is a prepared dataset and is used as it is; anything else is raw
 * text (json[l][.gz|.zst], txt, parquet, MDS) and is prepared into a cache folder first (reused when its
 * settings match).
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { prepare, type PrepareProgress } from '../data/prepare.js';
import { TokenDataset } from '../data/token_dataset.js';
import type { TrainConfig } from './config.js';

/** Where the data was found. */
export interface DataSelection {
  inputs: string[];
  source: '--data' | 'MOSAICBERT_DATA' | 'config data' | 'data_local' | '../shared/data/wikipedia';
}

/** How to get data, for the error when none is found. */
export const NO_DATA_HELP = 'no training data found. Pass --data DIR_OR_FILES or set MOSAICBERT_DATA to raw text ' +
  '(.json/.jsonl/.txt, optionally .gz/.zst, .parquet, or an MDS folder) or to a folder made by `mosaicbert prepare`. ' +
  'To pretrain on C4 as the reference does, download some shards of the allenai/c4 dataset (e.g. ' +
  'en/c4-train.00000-of-01024.json.gz from the Hugging Face Hub) and pass them with --data; any other text works too.';

/**
 * Picks the data inputs (see the module comment for the order).
 * @throws Error with {@link NO_DATA_HELP} when nothing is found, or naming a given path that does not exist.
 */
export function findData(cfg: TrainConfig, flag: string[] | undefined, env = process.env.MOSAICBERT_DATA,
  cwd = process.cwd()): DataSelection {
  const check = (paths: string[], what: string) => {
    for (const p of paths) if (!existsSync(p)) throw new Error(`${what}: ${p}: no such file or folder`);
    return paths.map((p) => resolve(cwd, p));
  };
  if (flag && flag.length) return { inputs: check(flag, '--data'), source: '--data' };
  if (env) return { inputs: check(env.split(delimiter).filter(Boolean), 'MOSAICBERT_DATA'), source: 'MOSAICBERT_DATA' };
  if (cfg.data) return { inputs: check(cfg.data, 'data'), source: 'config data' };
  if (cfg.data_local && existsSync(resolve(cwd, cfg.data_local))) return { inputs: [resolve(cwd, cfg.data_local)], source: 'data_local' };
  const shared = resolve(cwd, '../shared/data/wikipedia');
  if (existsSync(shared)) return { inputs: [shared], source: '../shared/data/wikipedia' };
  throw new Error(NO_DATA_HELP);
}

/** The opened splits. */
export interface PreparedData {
  dir: string;
  train: TokenDataset;
  /** Null when the dataset has no validation split. */
  val: TokenDataset | null;
  /** True when this call ran prepare(). */
  prepared: boolean;
}

/** True when `dir` is a prepared dataset folder (has train/index.json). */
export function isPreparedDir(dir: string): boolean {
  return existsSync(join(dir, 'train', 'index.json'));
}

/**
 * Opens prepared data, preparing raw inputs into `cacheDir` first (skipped when `cacheDir` already holds a
 * dataset made from the same inputs with the same max_seq_len, mode, val_fraction and seed).
 * @throws Error when the prepared samples are longer than max_seq_len, or from prepare().
 */
export async function ensurePrepared(inputs: string[], cacheDir: string, cfg: TrainConfig,
  onProgress?: (p: PrepareProgress) => void): Promise<PreparedData> {
  let dir: string, prepared = false;
  if (inputs.length === 1 && isPreparedDir(inputs[0])) {
    dir = inputs[0];
  } else {
    dir = cacheDir;
    const want = { inputs, max_seq_len: cfg.max_seq_len, mode: cfg.data_mode, val_fraction: cfg.val_fraction, seed: cfg.seed };
    let reuse = false;
    if (isPreparedDir(dir)) {
      const idx = JSON.parse(readFileSync(join(dir, 'train', 'index.json'), 'utf8')) as Record<string, unknown>;
      reuse = JSON.stringify({ inputs: idx.inputs, max_seq_len: idx.max_seq_len, mode: idx.mode, val_fraction: idx.val_fraction, seed: idx.seed }) ===
        JSON.stringify(want);
    }
    if (!reuse) {
      await prepare({ inputs, out_dir: dir, max_seq_len: cfg.max_seq_len, mode: cfg.data_mode, val_fraction: cfg.val_fraction,
        seed: cfg.seed, onProgress });
      prepared = true;
    }
  }
  const train = TokenDataset.open(join(dir, 'train'));
  if (train.max_seq_len > cfg.max_seq_len) {
    throw new Error(`${dir}: prepared with max_seq_len ${train.max_seq_len}, the config says ${cfg.max_seq_len}`);
  }
  const val = existsSync(join(dir, 'val', 'index.json')) ? TokenDataset.open(join(dir, 'val')) : null;
  return { dir, train, val: val && val.num_samples > 0 ? val : null, prepared };
}
