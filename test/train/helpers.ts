/** Trainer test helpers: a tiny prepared corpus and a tiny-model config. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepare } from '../../src/data/prepare.js';
import { TokenDataset } from '../../src/data/token_dataset.js';
import { loadConfig, type TrainConfig } from '../../src/train/config.js';
import { rng } from '../helpers.js';

const WORDS = ('the of and in to a was is for on as by with he that at from his it an were are which this also be ' +
  'has or had first one their its new after who they two her she been other when time during there into school ' +
  'city county would most world river music war game film team season house state national century').split(' ');

/** A temporary folder with a prepared tiny corpus (train + val) of seq len 32. */
export async function tinyCorpus(): Promise<{ dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'mosaicbert-train-'));
  const r = rng(5);
  const lines: string[] = [];
  for (let d = 0; d < 120; d++) {
    const n = 5 + Math.floor(r() * 40);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(r() * r() * WORDS.length)]);
    lines.push(JSON.stringify({ text: words.join(' ') + '.' }));
  }
  writeFileSync(join(dir, 'c.jsonl'), lines.join('\n') + '\n');
  await prepare({ inputs: [join(dir, 'c.jsonl')], out_dir: join(dir, 'data'), max_seq_len: 32, val_fraction: 0.2, seed: 3 });
  return { dir, train: TokenDataset.open(join(dir, 'data', 'train')), val: TokenDataset.open(join(dir, 'data', 'val')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The tiny-model config (2 layers, hidden 32, 2 heads, GLU 64, seq 32, batch 8 in microbatches of 4). */
export function tinyConfig(overrides: string[] = []): TrainConfig {
  return loadConfig({ preset: 'mosaic-bert-tiny', overrides: [
    'model.model_config.hidden_size=32', 'model.model_config.num_attention_heads=2', 'model.model_config.num_hidden_layers=2',
    'model.model_config.intermediate_size=64', 'max_seq_len=32', 'global_train_batch_size=8',
    'device_train_microbatch_size=4', 'device_eval_batch_size=8', 'eval_subset_num_batches=2', 'max_duration=6ba',
    'eval_interval=3ba', 'save_interval=null', 'progress_bar=false', ...overrides] }).config;
}
