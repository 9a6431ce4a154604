/**
 * bert-base-uncased special tokens and vocabulary sizes. Ids are 0-based line numbers of vocab.txt (Google's
 * `uncased_L-12_H-768_A-12` release = Hugging Face `bert-base-uncased`).
 */

/** Number of entries in bert-base-uncased vocab.txt: the tokenizer's real vocabulary, `len(tokenizer)`. */
export const BERT_VOCAB_SIZE = 30522;

/** MosaicBERT's embedding rows: 30522 padded up to a multiple of 8. Ids 30522..30527 are never produced. */
export const MOSAICBERT_PADDED_VOCAB_SIZE = 30528;

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
export const CLS_TOKEN = '[CLS]';
export const SEP_TOKEN = '[SEP]';
export const MASK_TOKEN = '[MASK]';

/** The five special tokens, in Hugging Face `all_special_tokens` roles. */
export const SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN] as const;

/** Their ids in bert-base-uncased: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103. */
export const PAD_ID = 0;
export const UNK_ID = 100;
export const CLS_ID = 101;
export const SEP_ID = 102;
export const MASK_ID = 103;

/** Label value that the MLM loss ignores (PyTorch `CrossEntropyLoss(ignore_index=-100)`). */
export const IGNORE_INDEX = -100;
