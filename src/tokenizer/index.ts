export * from './special-tokens.js';
export { bertBaseUncasedVocabPath } from './vocab-path.js';
export { BertTokenizer } from './bert-tokenizer.js';
export type { BertEncoding, BertEncodeOptions, BertTokenizerOptions } from './bert-tokenizer.js';
