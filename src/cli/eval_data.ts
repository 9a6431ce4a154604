/**
 * What `mosaicbert eval --data` evaluates: a prepared folder's split, one split folder, or raw text tokenized into a
 * temporary folder; and the checks that the data fits the model.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PretrainedInfo } from '../interop/pretrained.js';
import type { MaskedLMModel } from '../model/mlm.js';
import { prepare } from '../data/prepare.js';
import { TokenDataset } from '../data/token_dataset.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { isPreparedDir } from '../train/data.js';
import { prepareProgressBar } from './prepare.js';

/** The `eval` flags that choose and tokenize the data (undefined: not given). */
export interface EvalDataFlags {
  data: string[];
  split?: string;
  maxSeqLen?: number;
  mode?: 'truncate' | 'chunk';
  textField?: string;
  maxSamples?: number;
  progress: boolean;
}

/** The opened split, a name for it (the folder, or the raw inputs) and what removes it (temporary folders). */
export interface EvalData {
  ds: TokenDataset;
  name: string;
  cleanup: () => void;
}

/**
 * The split `--data` names: a prepared folder's `--split` (default val), one split folder, or raw text tokenized
 * with the model's tokenizer into a temporary folder (every document; `cleanup` removes it).
 * @throws Error naming the flag: a missing split, or a raw-text flag given with tokenized data (or the reverse).
 */
export async function openEvalData(o: EvalDataFlags, tok: BertTokenizer): Promise<EvalData> {
  const tokenized = (d: string) => isPreparedDir(d) || existsSync(join(d, 'index.json'));
  const one = o.data.length === 1 ? resolve(o.data[0]) : null;
  if (!one) for (const d of o.data) if (tokenized(d)) throw new Error(`--data: ${d} is already tokenized; pass it alone`);
  if (one && tokenized(one)) {
    for (const [v, flag] of [[o.maxSeqLen, '--max-seq-len'], [o.mode, '--mode'], [o.textField, '--text-field']] as const) {
      if (v !== undefined) throw new Error(`${flag} applies to raw text; ${one} is already tokenized`);
    }
    let dir = one;
    if (isPreparedDir(one)) {
      dir = join(one, o.split ?? 'val');
      if (!existsSync(join(dir, 'index.json'))) {
        throw new Error(`--data: ${one} has no ${o.split ?? 'val'} split (${join(dir, 'index.json')} is missing)` +
          (o.split === undefined ? '; pass --split train' : ''));
      }
    } else if (o.split !== undefined) {
      throw new Error(`--split applies to a prepared folder with train/ and val/; ${one} is one split`);
    }
    const ds = TokenDataset.open(dir);
    return { ds, name: ds.dir, cleanup: () => ds.close() };
  }
  if (o.split !== undefined) throw new Error('--split applies to a prepared folder; raw text is evaluated whole');
  const inputs = o.data.map((d) => resolve(d));
  const tmp = mkdtempSync(join(tmpdir(), 'mosaicbert-eval-'));
  const pb = prepareProgressBar(o.progress);
  try {
    // Every document (no validation split); a sample cap needs at most that many documents.
    await prepare({ inputs, out_dir: join(tmp, 'data'), max_seq_len: o.maxSeqLen ?? 128, mode: o.mode ?? 'truncate',
      val_fraction: 0, text_field: o.textField, max_documents: o.maxSamples, tokenizer: tok, onProgress: pb.update });
    const ds = TokenDataset.open(join(tmp, 'data', 'train'));
    return { ds, name: inputs.join(', '), cleanup: () => { ds.close(); rmSync(tmp, { recursive: true, force: true }); } };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    pb.stop();
  }
}

/**
 * The dataset's token ids must be rows of the model's embedding and, for classic BERT, its samples no longer than
 * the position table (errors naming both sizes); a dataset tokenized with another vocabulary than the model's
 * tokenizer draws a warning.
 */
export function checkDataFits({ ds, name }: EvalData, model: MaskedLMModel, info: PretrainedInfo, tok: BertTokenizer): void {
  const t = ds.index.tokenizer;
  if (info.modelType === 'bert' && ds.max_seq_len > model.config.max_position_embeddings) {
    throw new Error(`--data: ${name} was prepared with max_seq_len ${ds.max_seq_len}, more than the model's max_position_embeddings ` +
      `(${model.config.max_position_embeddings}); prepare the text with a smaller --max-seq-len`);
  }
  if (t.vocab_size > model.config.vocab_size) {
    throw new Error(`--data: ${name} was tokenized with ${t.vocab_size} tokens (${t.name}), more than the model's vocab_size ${model.config.vocab_size}`);
  }
  if (t.vocab_md5 !== tok.vocab_md5) {
    console.error(`warning: ${name} was tokenized with ${t.name} (vocab md5 ${t.vocab_md5}), the model's tokenizer is ${tok.name} (${tok.vocab_md5})`);
  }
}
