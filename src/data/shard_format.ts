/**
 * The on-disk format of prepared (tokenized) datasets: one folder per split holding `index.json` and shard files
 * `shard.NNNNN.bin`. Samples are stored unpadded, [CLS] and [SEP] included, as uint16 token ids.
 *
 * Shard file (little-endian):
 *   bytes 0..7   magic "MBTOKS01"
 *   bytes 8..11  uint32 num_samples
 *   bytes 12..15 uint32 0 (reserved)
 *   then         uint32 offsets[num_samples + 1], token offsets of each sample in the shard (offsets[0] = 0)
 *   then         uint16 tokens[offsets[num_samples]]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SHARD_MAGIC = 'MBTOKS01';
export const SHARD_HEADER_BYTES = 16;
export const INDEX_FORMAT = 'mosaicbert-tokens';
export const INDEX_VERSION = 1;

/** How a document becomes samples: 'truncate' (reference: one sample a document) or 'chunk' (consecutive windows). */
export type SampleMode = 'truncate' | 'chunk';

/** One shard's entry in index.json. */
export interface ShardInfo {
  /** File name inside the split folder. */
  file: string;
  num_samples: number;
  /** Tokens stored, specials included. */
  num_tokens: number;
  /** File size in bytes. */
  bytes: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
}

/** The tokenizer a dataset was prepared with. */
export interface IndexTokenizer {
  name: string;
  vocab_size: number;
  vocab_md5: string;
  do_lower_case: boolean;
  pad_token_id: number;
  cls_token_id: number;
  sep_token_id: number;
  mask_token_id: number;
  unk_token_id: number;
}

/** A split's index.json. */
export interface TokenDatasetIndex {
  format: typeof INDEX_FORMAT;
  version: number;
  split: string;
  tokenizer: IndexTokenizer;
  /** Longest sample in tokens, [CLS] and [SEP] included. */
  max_seq_len: number;
  mode: SampleMode;
  dtype: 'uint16';
  /** Seed and fraction of the train/validation split (see split.ts). */
  seed: number;
  val_fraction: number;
  /** Inputs as given to prepare. */
  inputs: string[];
  /** Documents in this split (empty documents, with no tokens, excluded). */
  num_documents: number;
  num_samples: number;
  num_tokens: number;
  /** Documents of this split longer than max_seq_len - 2 tokens, cut short by truncation (0 in chunk mode). */
  num_truncated_documents: number;
  shards: ShardInfo[];
}

/**
 * Reads and checks `dir/index.json`.
 * @throws Error naming the file when it is missing, not this format, or of an unknown version.
 */
export function readTokenDatasetIndex(dir: string): TokenDatasetIndex {
  const path = join(dir, 'index.json');
  let idx: TokenDatasetIndex;
  try {
    idx = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the dataset index: ${(e as Error).message}`);
  }
  if (idx.format !== INDEX_FORMAT) throw new Error(`${path}: format "${idx.format}" is not ${INDEX_FORMAT}`);
  if (idx.version !== INDEX_VERSION) throw new Error(`${path}: version ${idx.version} is not ${INDEX_VERSION}`);
  if (idx.dtype !== 'uint16') throw new Error(`${path}: dtype ${idx.dtype} is not uint16`);
  return idx;
}
