/**
 * Plain-text corpora (`.txt`, optionally `.gz` / `.zst`). Default: one document per block of non-blank lines,
 * blocks separated by one or more blank (whitespace-only) lines, the block's lines joined with "\n" (the layout of
 * BookCorpus-style and WikiExtractor-style dumps). With `txt_split: 'line'`, every non-blank line is a document.
 */
import { readLines } from './byte_stream.js';
import type { CorpusDocument } from './document.js';
import type { EncodingErrors } from './utf8.js';

/** How a .txt file is cut into documents: 'paragraph' (blank-line separated blocks) or 'line'. */
export type TxtSplit = 'paragraph' | 'line';

/**
 * Documents of a text file, streaming; `where` names the document's first line.
 * @throws Error naming the file and byte offset for invalid UTF-8 (unless `errors` is 'replace') or a NUL byte.
 */
export async function* readTxt(path: string, txt_split: TxtSplit = 'paragraph', errors: EncodingErrors = 'strict'): AsyncGenerator<CorpusDocument> {
  let block: string[] = [];
  let first = 0;
  for await (const { text, line } of readLines(path, errors)) {
    const blank = text.trim() === '';
    if (txt_split === 'line') {
      if (!blank) yield { text, where: `${path}:${line}` };
      continue;
    }
    if (blank) {
      if (block.length) yield { text: block.join('\n'), where: `${path}:${first}` };
      block = [];
    } else {
      if (!block.length) first = line;
      block.push(text);
    }
  }
  if (block.length) yield { text: block.join('\n'), where: `${path}:${first}` };
}
