/**
 * The BERT WordPiece tokenizer (bert-base-uncased by default) through Hugging Face `tokenizers`' native Node binding:
 * the same pipeline as `BertTokenizerFast` / `tokenizer.json` of bert-base-uncased, so ids match the reference.
 *
 * Pipeline (Hugging Face `BertNormalizer` + `BertPreTokenizer` + `WordPiece` + `BertProcessing`):
 * clean text (drop control chars, whitespace -> space), pad CJK ideographs with spaces, lowercase, NFD + strip
 * accents (both only when do_lower_case), split on whitespace and punctuation, greedy longest-match-first WordPiece
 * with `##` continuations (words over 100 chars -> [UNK]), then `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` with
 * token_type_ids 0 for A and 1 for B. Special tokens written in the text ("[MASK]") are kept as their ids.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder } from 'tokenizers';
import { bertBaseUncasedVocabPath } from './vocab_path.js';
import { CLS_TOKEN, MASK_TOKEN, PAD_TOKEN, SEP_TOKEN, SPECIAL_TOKENS, UNK_TOKEN } from './special_tokens.js';

const BERT_BASE_UNCASED_VOCAB_MD5 = '64800d5d8528ce344256daf115d4965e';

/** One encoded sequence (or pair), as plain arrays of ids; all three have the same length. */
export interface BertEncoding {
  /** Token ids, int in [0, vocab_size). */
  input_ids: number[];
  /** 0 for the first segment (with its [CLS] and [SEP]), 1 for the second segment and its [SEP]. */
  token_type_ids: number[];
  /** 1 for real tokens, 0 for padding. */
  attention_mask: number[];
}

/** Options of {@link BertTokenizer.encode}, named as Hugging Face's `tokenizer(...)` call. */
export interface BertEncodeOptions {
  /** Add [CLS]/[SEP] (default true). */
  add_special_tokens?: boolean;
  /** Truncate to at most this many tokens, specials included, `longest_first` for pairs (default: no truncation). */
  max_length?: number;
  /** Pad with [PAD] (id 0, type 0, mask 0) on the right up to `max_length` (default false). */
  pad_to_max_length?: boolean;
}

/** Options of {@link BertTokenizer.fromVocabFile}. */
export interface BertTokenizerOptions {
  /** Lowercase and strip accents (true for uncased vocabularies, the default). */
  do_lower_case?: boolean;
}

async function buildTokenizer(vocabPath: string, doLowerCase: boolean, clsId: number, sepId: number,
  maxLength?: number): Promise<Tokenizer> {
  const model = await WordPiece.fromFile(vocabPath, { unkToken: UNK_TOKEN, continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100 });
  const tok = new Tokenizer(model);
  tok.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: doLowerCase,
    lowercase: doLowerCase }));
  tok.setPreTokenizer(bertPreTokenizer());
  tok.setPostProcessor(bertProcessing([SEP_TOKEN, sepId], [CLS_TOKEN, clsId]));
  tok.setDecoder(wordPieceDecoder('##', true));
  tok.addSpecialTokens([...SPECIAL_TOKENS]);
  if (maxLength !== undefined) {
    tok.setTruncation(maxLength, { strategy: 'LongestFirst' as never, direction: 'right' as never, stride: 0 });
  }
  return tok;
}

/**
 * A BERT WordPiece tokenizer over a vocab.txt. Create with {@link BertTokenizer.bertBaseUncased} or
 * {@link BertTokenizer.fromVocabFile}. All encode methods are async: the work runs on libuv's thread pool.
 */
export class BertTokenizer {
  /** Number of entries in vocab.txt (30522 for bert-base-uncased): random MLM replacements draw from [0, vocab_size). */
  readonly vocab_size: number;
  readonly pad_token_id: number;
  readonly unk_token_id: number;
  readonly cls_token_id: number;
  readonly sep_token_id: number;
  readonly mask_token_id: number;
  /** Ids of [PAD], [UNK], [CLS], [SEP], [MASK]: never masked (HF `all_special_ids`). */
  readonly special_token_ids: readonly number[];
  /** "bert-base-uncased" when vocab.txt is that vocabulary byte for byte, else the vocab file's name. */
  readonly name: string;
  /** md5 of vocab.txt, hex. */
  readonly vocab_md5: string;
  readonly do_lower_case: boolean;

  private readonly truncating = new Map<number, Promise<Tokenizer>>();

  private constructor(private readonly vocabPath: string, private readonly tok: Tokenizer, vocabText: string,
    doLowerCase: boolean) {
    const lines = vocabText.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    this.vocab_size = lines.length;
    this.vocab_md5 = createHash('md5').update(vocabText).digest('hex');
    this.name = this.vocab_md5 === BERT_BASE_UNCASED_VOCAB_MD5 ? 'bert-base-uncased' : basename(vocabPath);
    this.do_lower_case = doLowerCase;
    const id = (t: string) => {
      const v = tok.tokenToId(t);
      if (v === null || v === undefined) throw new Error(`${vocabPath}: special token ${t} missing from the vocab`);
      return v;
    };
    this.pad_token_id = id(PAD_TOKEN);
    this.unk_token_id = id(UNK_TOKEN);
    this.cls_token_id = id(CLS_TOKEN);
    this.sep_token_id = id(SEP_TOKEN);
    this.mask_token_id = id(MASK_TOKEN);
    this.special_token_ids = [this.pad_token_id, this.unk_token_id, this.cls_token_id, this.sep_token_id,
      this.mask_token_id];
  }

  /**
   * Loads a WordPiece vocab.txt (one token per line, id = 0-based line number).
   * @throws Error when the file is unreadable or lacks one of [PAD], [UNK], [CLS], [SEP], [MASK].
   */
  static async fromVocabFile(vocabPath: string, options: BertTokenizerOptions = {}): Promise<BertTokenizer> {
    const doLowerCase = options.do_lower_case ?? true;
    const text = readFileSync(vocabPath, 'utf8');
    const ids = new Map<string, number>();
    text.split('\n').forEach((t, i) => { if (!ids.has(t)) ids.set(t, i); });
    const cls = ids.get(CLS_TOKEN), sep = ids.get(SEP_TOKEN);
    if (cls === undefined || sep === undefined) throw new Error(`${vocabPath}: [CLS] or [SEP] missing from the vocab`);
    const tok = await buildTokenizer(vocabPath, doLowerCase, cls, sep);
    return new BertTokenizer(vocabPath, tok, text, doLowerCase);
  }

  /** The bert-base-uncased tokenizer from the vocab.txt shipped in this package. */
  static bertBaseUncased(): Promise<BertTokenizer> {
    return BertTokenizer.fromVocabFile(bertBaseUncasedVocabPath(), { do_lower_case: true });
  }

  private tokenizerFor(maxLength: number | undefined): Promise<Tokenizer> {
    if (maxLength === undefined) return Promise.resolve(this.tok);
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`max_length must be a positive integer, got ${maxLength}`);
    let t = this.truncating.get(maxLength);
    if (!t) {
      t = buildTokenizer(this.vocabPath, this.do_lower_case, this.cls_token_id, this.sep_token_id, maxLength);
      this.truncating.set(maxLength, t);
    }
    return t;
  }

  private finish(ids: number[], types: number[], options: BertEncodeOptions): BertEncoding {
    const attention_mask = new Array<number>(ids.length).fill(1);
    if (options.pad_to_max_length && options.max_length !== undefined) {
      while (ids.length < options.max_length) {
        ids.push(this.pad_token_id); types.push(0); attention_mask.push(0);
      }
    }
    return { input_ids: ids, token_type_ids: types, attention_mask };
  }

  /**
   * Encodes one text, or a sentence pair, as `tokenizer(text, pair, truncation=..., max_length=...)` does.
   * @returns ids, token_type_ids and attention_mask, each of length <= max_length (== when padded).
   */
  async encode(text: string, pair?: string, options: BertEncodeOptions = {}): Promise<BertEncoding> {
    const tok = await this.tokenizerFor(options.max_length);
    const enc = await tok.encode(text, pair ?? null, { addSpecialTokens: options.add_special_tokens ?? true });
    return this.finish(enc.getIds(), enc.getTypeIds(), options);
  }

  /** Encodes many texts (single sequences) in one native call; same options as {@link encode}. */
  async encodeBatch(texts: string[], options: BertEncodeOptions = {}): Promise<BertEncoding[]> {
    const tok = await this.tokenizerFor(options.max_length);
    const encs = await tok.encodeBatch(texts, { addSpecialTokens: options.add_special_tokens ?? true });
    return encs.map((e) => this.finish(e.getIds(), e.getTypeIds(), options));
  }

  /**
   * Token ids of each text with no special tokens and no truncation: the raw WordPiece stream that corpus
   * preparation windows itself.
   */
  async encodeIdsBatch(texts: string[]): Promise<number[][]> {
    const encs = await this.tok.encodeBatch(texts, { addSpecialTokens: false });
    return encs.map((e) => e.getIds());
  }

  /** WordPiece tokens of a text without special tokens, e.g. "unaffable" -> ["una", "##ffa", "##ble"]. */
  async tokenize(text: string): Promise<string[]> {
    return (await this.tok.encode(text, null, { addSpecialTokens: false })).getTokens();
  }

  /** Text of ids: joins `##` continuations and cleans up spaces before punctuation, like HF `decode`. */
  decode(ids: ArrayLike<number>, skip_special_tokens = true): Promise<string> {
    return this.tok.decode(Array.from(ids), skip_special_tokens);
  }

  /** Id of a token string, or undefined when not in the vocab. */
  tokenToId(token: string): number | undefined {
    return this.tok.tokenToId(token) ?? undefined;
  }

  /** Token string of an id, or undefined when out of range. */
  idToToken(id: number): string | undefined {
    return this.tok.idToToken(id) ?? undefined;
  }
}
