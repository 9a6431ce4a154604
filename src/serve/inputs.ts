/**
 * Tokenizing and length-checking one input of a request, on the thread that serves HTTP (so a too-long input is
 * refused with its token count before it is queued, and the batcher budgets the tokens that will be computed).
 */
import type { EncodedInput } from '../pipelines/common.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { ServeError } from './errors.js';

/** A tokenized input with its length before truncation. */
export interface Tokenized extends EncodedInput {
  /** Tokens before truncation (`ids.length` when not truncated). */
  untruncated: number;
}

/**
 * Tokenizes one text (or pair). Longer than `maxInputLength` tokens ([CLS]/[SEP] included): truncated (HF
 * longest_first, [SEP] kept; the pipelines' truncation) when `truncate`, else a 413 {@link ServeError} naming the
 * input (`field`) and its token count.
 */
export async function tokenizeInput(tokenizer: BertTokenizer, maxInputLength: number, text: string,
  pair: string | undefined, truncate: boolean, field: string): Promise<Tokenized> {
  let e = await tokenizer.encode(text, pair);
  const n = e.input_ids.length;
  if (n > maxInputLength) {
    if (!truncate) {
      throw new ServeError(413, 'Validation', `Input validation error: \`${field}\` must have less than ` +
        `${maxInputLength + 1} tokens. Given: ${n} (set truncate to true to truncate it)`, field, 'context_length_exceeded');
    }
    e = await tokenizer.encode(text, pair, { max_length: maxInputLength });
  }
  return { ids: e.input_ids, types: e.token_type_ids, untruncated: n };
}
