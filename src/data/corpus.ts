/**
 * A corpus = a list of inputs (files and folders) read as one ordered stream of documents. Formats, by name:
 * `.jsonl` / `.json` (JSON lines, C4 style), `.txt`, each optionally `.gz` / `.zst`; `.parquet`; and MDS folders
 * (holding an MDS `index.json`). Folders are walked recursively in sorted order; files of other types inside
 * them (README, SOURCES.md, ...) are ignored.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stripCompression } from './byte_stream.js';
import type { CorpusDocument } from './document.js';
import type { EncodingErrors } from './utf8.js';
import { isMdsDir, readMds } from './mds.js';
import { readJsonl } from './read_jsonl.js';
import { readParquet } from './read_parquet.js';
import { readTxt, type TxtSplit } from './read_txt.js';

/** Source format of one corpus input. */
export type CorpusFormat = 'jsonl' | 'txt' | 'parquet' | 'mds';

/** One input of a corpus after folders are expanded. */
export interface CorpusSource {
  format: CorpusFormat;
  path: string;
}

/** Options of {@link readCorpus}. */
export interface CorpusOptions {
  /** JSON field / Parquet column / MDS column holding the text (default "text"). */
  text_field?: string;
  /** How .txt files are cut into documents (default 'paragraph': blank-line separated blocks). */
  txt_split?: TxtSplit;
  /** Invalid UTF-8 in .txt / .jsonl files: 'strict' (default: an error naming file and byte offset) or 'replace'. */
  encoding_errors?: EncodingErrors;
}

/** The format of a file by its name, or null when unsupported. */
export function formatOfFile(path: string): CorpusFormat | null {
  const p = stripCompression(path);
  if (p.endsWith('.jsonl') || p.endsWith('.json')) return 'jsonl';
  if (p.endsWith('.txt')) return 'txt';
  if (path.toLowerCase().endsWith('.parquet')) return 'parquet';
  return null;
}

/**
 * Expands inputs into sources, in the given order, each folder's content sorted by name.
 * @throws Error for a missing input or an explicitly named file of an unsupported type.
 */
export function listCorpusSources(inputs: string[]): CorpusSource[] {
  const out: CorpusSource[] = [];
  const walk = (dir: string) => {
    if (isMdsDir(dir)) { out.push({ format: 'mds', path: dir }); return; }
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const f = formatOfFile(p);
        if (f) out.push({ format: f, path: p });
      }
    }
  };
  for (const input of inputs) {
    let st;
    try { st = statSync(input); } catch { throw new Error(`${input}: no such file or folder`); }
    if (st.isDirectory()) walk(input);
    else {
      const f = formatOfFile(input);
      if (!f) throw new Error(`${input}: unsupported corpus file type (expected .jsonl/.json/.txt[.gz|.zst] or .parquet)`);
      out.push({ format: f, path: input });
    }
  }
  return out;
}

/** Documents of one source, streaming. */
export function readSource(src: CorpusSource, options: CorpusOptions = {}): AsyncGenerator<CorpusDocument> {
  const field = options.text_field ?? 'text';
  switch (src.format) {
    case 'jsonl': return readJsonl(src.path, field, options.encoding_errors);
    case 'txt': return readTxt(src.path, options.txt_split ?? 'paragraph', options.encoding_errors);
    case 'parquet': return readParquet(src.path, field);
    case 'mds': return readMds(src.path, field);
  }
}

/** All documents of all sources, in order. */
export async function* readCorpus(sources: CorpusSource[], options: CorpusOptions = {}):
  AsyncGenerator<CorpusDocument> {
  for (const s of sources) yield* readSource(s, options);
}
