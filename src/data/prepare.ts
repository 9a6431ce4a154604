/**
 * Corpus preparation: documents -> BERT token ids -> samples -> uint16 shards with a JSON index, per split.
 *
 * Reference (mosaicml examples `convert_dataset.py` for BERT, no concatenation): each document becomes one sample
 * `[CLS] first max_seq_len-2 tokens [SEP]`, the rest of the document dropped (mode 'truncate'). Mode 'chunk' keeps
 * every token: the document's tokens are cut into consecutive windows of max_seq_len-2, each wrapped in
 * [CLS]/[SEP] (the last window may be shorter). Padding happens later, in the loader. Documents with no tokens
 * are skipped.
 *
 * Streaming with bounded memory: one batch of documents being read, one being tokenized (the native tokenizer
 * runs on libuv's thread pool while the next batch is parsed), and one shard per split being filled.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { listCorpusSources, readCorpus } from './corpus.js';
import type { CorpusDocument } from './document.js';
import type { TxtSplit } from './read_txt.js';
import { writeFileAtomic } from './atomic.js';
import { INDEX_FORMAT, INDEX_VERSION, type SampleMode, type TokenDatasetIndex } from './shard_format.js';
import { ShardWriter } from './shard_writer.js';
import { isValidationDocument } from './split.js';
import type { EncodingErrors } from './utf8.js';

/** Options of {@link prepare}. Names follow the reference YAML where one exists. */
export interface PrepareOptions {
  /** Corpus files and folders (see corpus.ts for formats). */
  inputs: string[];
  /** Output folder; gets `train/` and, when val_fraction > 0, `val/`. */
  out_dir: string;
  /** Longest sample in tokens, [CLS] and [SEP] included (default 128, the reference). >= 3. */
  max_seq_len?: number;
  /** 'truncate' (default, the reference) or 'chunk'. */
  mode?: SampleMode;
  /** Fraction of documents sent to `val/`, decided per document (default DEFAULT_VAL_FRACTION = 0.01). */
  val_fraction?: number;
  /** Seed of the split (default 17, the reference's seed). */
  seed?: number;
  /** JSON field / Parquet or MDS column of the text (default "text"). */
  text_field?: string;
  /** How .txt files are cut into documents (default 'paragraph'). */
  txt_split?: TxtSplit;
  /** Tokens per shard file (default 2^24 = 32 MiB of uint16). */
  shard_max_tokens?: number;
  /** Stop after this many documents (default: all). */
  max_documents?: number;
  /** Documents per tokenizer call (default 64). */
  batch_documents?: number;
  /** Tokenizer (default: the packaged bert-base-uncased). */
  tokenizer?: BertTokenizer;
  /** Invalid UTF-8 in .txt / .jsonl inputs: 'strict' (default: an error naming file and byte offset) or 'replace'. */
  encoding_errors?: EncodingErrors;
  /** Called after every batch of documents, and once at the end with `done: true`. */
  onProgress?: (p: PrepareProgress) => void;
}

/** Progress of {@link prepare}; rates are per second of wall time since the start. */
export interface PrepareProgress {
  documents: number;
  samples: number;
  tokens: number;
  seconds: number;
  documents_per_s: number;
  tokens_per_s: number;
  /** Location of the last document read. */
  where: string;
  done: boolean;
}

/** What {@link prepare} wrote. */
export interface PrepareResult {
  out_dir: string;
  train: TokenDatasetIndex;
  /** Absent when val_fraction is 0. */
  val?: TokenDatasetIndex;
  /** Documents read, empty ones included. */
  documents: number;
  /** Documents with no tokens, skipped. */
  empty_documents: number;
  seconds: number;
}

export const DEFAULT_VAL_FRACTION = 0.01;

/** Longest prefix of `text` shorter than `limit` chars that ends right before an ASCII space/tab/newline. */
function prefixAtWhitespace(text: string, limit: number): string | null {
  if (text.length <= limit) return null;
  for (let i = limit; i > 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) return text.slice(0, i);
  }
  return null;
}

/**
 * The first `keep` WordPiece ids of each text, and each text's full token count when known (else -1, meaning
 * "more than keep"): exact,
 * since a cut at an ASCII whitespace never changes the tokens before it (BERT normalisation is per character
 * and words end at whitespace). Tries a prefix of ~8 chars a token first, doubling it while too short.
 */
export async function encodePrefixes(tok: BertTokenizer, texts: string[], keep: number):
  Promise<Array<{ ids: number[]; total: number }>> {
  const out = new Array<{ ids: number[]; total: number }>(texts.length);
  let pending = texts.map((_, i) => i);
  let limit = Math.max(256, keep * 8);
  while (pending.length) {
    const cut = pending.map((i) => prefixAtWhitespace(texts[i], limit));
    const ids = await tok.encodeIdsBatch(pending.map((i, k) => cut[k] ?? texts[i]));
    const again: number[] = [];
    pending.forEach((i, k) => {
      if (cut[k] === null) out[i] = { ids: ids[k].slice(0, keep), total: ids[k].length };
      else if (ids[k].length > keep) out[i] = { ids: ids[k].slice(0, keep), total: -1 };
      else again.push(i);
    });
    pending = again;
    limit *= 4;
  }
  return out;
}

function removeStale(dir: string, keep: Set<string>): void {
  for (const f of readdirSync(dir)) {
    if (/^shard\.\d+\.bin$/.test(f) && !keep.has(f)) rmSync(join(dir, f), { force: true });
    if (f.includes('.tmp-')) rmSync(join(dir, f), { force: true });
  }
}

/**
 * Tokenizes a corpus into `out_dir/train` (and `out_dir/val`) shards with an index.json each. Any previous dataset
 * in those folders is replaced (its index.json is removed first, so a crash leaves no index over partial data).
 * A failed run removes the folders it created (`out_dir` itself when it did not exist, else `train/` / `val/`).
 * @throws Error naming the file and line (or row / sample, or byte offset for invalid UTF-8 and binary files) of a
 *   bad input document, for an empty corpus (no tokens at all), or for bad options.
 */
export async function prepare(options: PrepareOptions): Promise<PrepareResult> {
  const created = [options.out_dir, join(options.out_dir, 'train'), join(options.out_dir, 'val')].filter((d) => !existsSync(d));
  try {
    return await prepareInto(options);
  } catch (e) {
    // Outermost first: removing out_dir removes the splits inside it.
    for (const d of created) rmSync(d, { recursive: true, force: true });
    throw e;
  }
}

async function prepareInto(options: PrepareOptions): Promise<PrepareResult> {
  const max_seq_len = options.max_seq_len ?? 128;
  const mode = options.mode ?? 'truncate';
  const val_fraction = options.val_fraction ?? DEFAULT_VAL_FRACTION;
  const seed = options.seed ?? 17;
  const batchDocs = options.batch_documents ?? 64;
  const maxDocs = options.max_documents ?? Infinity;
  if (!Number.isInteger(max_seq_len) || max_seq_len < 3) throw new Error(`max_seq_len must be an integer >= 3, got ${max_seq_len}`);
  if (mode !== 'truncate' && mode !== 'chunk') throw new Error(`mode must be 'truncate' or 'chunk', got ${mode}`);
  if (!(val_fraction >= 0 && val_fraction <= 1)) throw new Error(`val_fraction must be in [0, 1], got ${val_fraction}`);
  const tok = options.tokenizer ?? await BertTokenizer.bertBaseUncased();
  if (tok.vocab_size > 65536) throw new Error(`vocab of ${tok.vocab_size} ids does not fit uint16`);
  const sources = listCorpusSources(options.inputs);
  if (!sources.length) throw new Error(`no corpus files found in ${options.inputs.join(', ')}`);

  const splits = val_fraction > 0 ? ['train', 'val'] as const : ['train'] as const;
  const state = new Map<string, { dir: string; writer: ShardWriter; docs: number; samples: number; tokens: number;
    truncated: number }>();
  for (const split of splits) {
    const dir = join(options.out_dir, split);
    mkdirSync(dir, { recursive: true });
    rmSync(join(dir, 'index.json'), { force: true });
    state.set(split, { dir, writer: new ShardWriter(dir, options.shard_max_tokens ?? 1 << 24), docs: 0, samples: 0,
      tokens: 0, truncated: 0 });
  }

  const content = max_seq_len - 2;
  const cls = tok.cls_token_id, sep = tok.sep_token_id;
  const t0 = performance.now();
  let docIndex = 0, empty = 0, samples = 0, tokens = 0, where = '';
  const progress = (done: boolean) => {
    if (!options.onProgress) return;
    const seconds = (performance.now() - t0) / 1000;
    options.onProgress({ documents: docIndex, samples, tokens, seconds, documents_per_s: docIndex / seconds,
      tokens_per_s: tokens / seconds, where, done });
  };

  const encode = (docs: CorpusDocument[]) => {
    const p = mode === 'truncate'
      ? encodePrefixes(tok, docs.map((d) => d.text), content)
      : tok.encodeIdsBatch(docs.map((d) => d.text)).then((all) => all.map((ids) => ({ ids, total: ids.length })));
    p.catch(() => {});   // awaited later; this only stops an early rejection counting as unhandled meanwhile
    return p;
  };

  const it = readCorpus(sources, { text_field: options.text_field, txt_split: options.txt_split,
    encoding_errors: options.encoding_errors });
  let read = 0;
  const nextBatch = async (): Promise<CorpusDocument[]> => {
    const out: CorpusDocument[] = [];
    while (out.length < batchDocs && read < maxDocs) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
      read++;
    }
    return out;
  };
  const sample = new Array<number>(max_seq_len);
  const write = (docs: CorpusDocument[], encoded: Array<{ ids: number[]; total: number }>) => {
    for (let d = 0; d < docs.length; d++, docIndex++) {
      where = docs[d].where;
      const { ids, total } = encoded[d];
      if (ids.length === 0) { empty++; continue; }
      const s = state.get(isValidationDocument(docIndex, seed, val_fraction) ? 'val' : 'train')!;
      s.docs++;
      if (total < 0 || total > ids.length) s.truncated++;
      for (let start = 0; start < ids.length; start += content) {
        const end = Math.min(ids.length, start + content);
        sample.length = 0;
        sample.push(cls);
        for (let i = start; i < end; i++) sample.push(ids[i]);
        sample.push(sep);
        s.writer.add(sample);
        s.samples++; s.tokens += sample.length;
        samples++; tokens += sample.length;
        if (mode === 'truncate') break;
      }
    }
  };

  let batch = await nextBatch();
  let pending = batch.length ? encode(batch) : null;
  while (batch.length) {
    const next = await nextBatch();
    const encoded = await pending!;
    pending = next.length ? encode(next) : null;
    write(batch, encoded);
    progress(false);
    batch = next;
  }

  if (samples === 0) {
    throw new Error(`${options.inputs.join(', ')}: no text to prepare (${docIndex} documents read, ${empty} of them empty); ` +
      'check the inputs and --text-field');
  }
  const result: PrepareResult = { out_dir: options.out_dir, train: undefined as never, documents: docIndex,
    empty_documents: empty, seconds: 0 };
  for (const split of splits) {
    const s = state.get(split)!;
    const shards = s.writer.finish();
    const index: TokenDatasetIndex = {
      format: INDEX_FORMAT, version: INDEX_VERSION, split,
      tokenizer: { name: tok.name, vocab_size: tok.vocab_size, vocab_md5: tok.vocab_md5, do_lower_case: tok.do_lower_case,
        pad_token_id: tok.pad_token_id, cls_token_id: cls, sep_token_id: sep, mask_token_id: tok.mask_token_id,
        unk_token_id: tok.unk_token_id },
      max_seq_len, mode, dtype: 'uint16', seed, val_fraction, inputs: options.inputs,
      num_documents: s.docs, num_samples: s.samples, num_tokens: s.tokens, num_truncated_documents: s.truncated, shards,
    };
    writeFileAtomic(join(s.dir, 'index.json'), JSON.stringify(index, null, 1) + '\n');
    removeStale(s.dir, new Set(shards.map((x) => x.file)));
    if (split === 'train') result.train = index; else result.val = index;
  }
  result.seconds = (performance.now() - t0) / 1000;
  progress(true);
  return result;
}
