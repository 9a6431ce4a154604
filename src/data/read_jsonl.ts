/**
 * JSON-lines corpora (C4 / the Wikipedia shards): one JSON object a line with a string text field; `.jsonl`,
 * `.json`, optionally `.gz` or `.zst`. Blank lines are skipped.
 */
import { readLines } from './byte_stream.js';
import type { CorpusDocument } from './document.js';
import type { EncodingErrors } from './utf8.js';

/**
 * Documents of a JSON-lines file, streaming.
 * @param text_field the field holding the text (default "text").
 * @throws Error "path:line: ..." for a line that is not JSON, not an object, or lacks a string `text_field`; naming
 *   the byte offset for invalid UTF-8 (unless `errors` is 'replace') or a NUL byte.
 */
export async function* readJsonl(path: string, text_field = 'text', errors: EncodingErrors = 'strict'): AsyncGenerator<CorpusDocument> {
  for await (const { text, line } of readLines(path, errors)) {
    if (text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}:${line}: invalid JSON: ${(e as Error).message}`);
    }
    const value = obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[text_field] : undefined;
    if (typeof value !== 'string') {
      throw new Error(`${path}:${line}: no string field "${text_field}" in this JSON line`);
    }
    yield { text: value, where: `${path}:${line}` };
  }
}
