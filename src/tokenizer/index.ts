export * from './special_tokens.js';
export { bertBaseUncasedVocabPath } from './vocab_path.js';
export { BertTokenizer } from './bert_tokenizer.js';
export type { BertEncoding, BertEncodeOptions, BertTokenizerOptions } from './bert_tokenizer.js';
