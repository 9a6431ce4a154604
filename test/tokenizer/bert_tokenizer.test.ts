import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BertTokenizer } from '../../src/tokenizer/bert_tokenizer.js';
import { bertBaseUncasedVocabPath } from '../../src/tokenizer/vocab_path.js';
import { BERT_VOCAB_SIZE, CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID } from '../../src/tokenizer/special_tokens.js';

const tokP = BertTokenizer.bertBaseUncased();
const ids = async (text: string, pair?: string) => (await (await tokP).encode(text, pair)).input_ids;

test('packaged vocab is bert-base-uncased and special ids are the reference ones', async () => {
  const tok = await tokP;
  assert.equal(tok.name, 'bert-base-uncased');
  assert.equal(tok.vocab_size, BERT_VOCAB_SIZE);
  assert.deepEqual([tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id],
    [PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID]);
  assert.equal(readFileSync(bertBaseUncasedVocabPath(), 'utf8').split('\n')[1], '[unused0]');
});

test('known bert-base-uncased encodings', async () => {
  assert.deepEqual(await ids('Hello, world!'), [101, 7592, 1010, 2088, 999, 102]);
  // The Hugging Face docs' example sentence.
  assert.deepEqual(await ids('Hello, my dog is cute'), [101, 7592, 1010, 2026, 3899, 2003, 10140, 102]);
  const tok = await tokP;
  assert.deepEqual(await tok.tokenize('I have a new GPU!'), ['i', 'have', 'a', 'new', 'gp', '##u', '!']);
});

test('lowercasing and accent stripping', async () => {
  const tok = await tokP;
  assert.deepEqual(await tok.tokenize('Café NAÏVE Résumé'), ['cafe', 'naive', 'resume']);
  assert.deepEqual(await ids('Café'), [101, tok.tokenToId('cafe'), 102]);
});

test('punctuation and CJK characters are split; over-long words are [UNK]', async () => {
  const tok = await tokP;
  assert.deepEqual(await tok.tokenize("don't-stop(now)"), ['don', "'", 't', '-', 'stop', '(', 'now', ')']);
  assert.deepEqual(await tok.tokenize('北京abc'), ['北', '京', 'abc']);
  assert.deepEqual((await ids('x'.repeat(101))), [101, 100, 102]);
  // Control characters are dropped and any whitespace separates words.
  assert.deepEqual(await tok.tokenize('a\u0000b\tc\nd'), ['ab', 'c', 'd']);
});

test('special tokens written in the text keep their ids', async () => {
  const e = await ids('The [MASK] is blue.');
  assert.equal(e[2], MASK_ID);
  assert.deepEqual(e, [101, 1996, 103, 2003, 2630, 1012, 102]);
});

test('sentence pairs get token_type_ids 0 then 1', async () => {
  const tok = await tokP;
  const e = await tok.encode('Who are you?', 'I am me.');
  assert.deepEqual(e.input_ids, [101, 2040, 2024, 2017, 1029, 102, 1045, 2572, 2033, 1012, 102]);
  assert.deepEqual(e.token_type_ids, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(e.attention_mask, new Array(11).fill(1));
});

test('truncation keeps [SEP] last; padding to max_length with [PAD] and mask 0', async () => {
  const tok = await tokP;
  const long = 'one two three four five six seven eight nine ten';
  const t = await tok.encode(long, undefined, { max_length: 6 });
  assert.deepEqual(t.input_ids, [101, 2028, 2048, 2093, 2176, 102]);
  const p = await tok.encode('hello', undefined, { max_length: 6, pad_to_max_length: true });
  assert.deepEqual(p.input_ids, [101, 7592, 102, 0, 0, 0]);
  assert.deepEqual(p.attention_mask, [1, 1, 1, 0, 0, 0]);
  assert.deepEqual(p.token_type_ids, [0, 0, 0, 0, 0, 0]);
  const pair = await tok.encode(long, 'a b', { max_length: 9 });
  assert.equal(pair.input_ids.length, 9);
  assert.deepEqual(pair.input_ids.slice(-4), [102, 1037, 1038, 102]);   // longest_first trims the long first text
  const batch = await tok.encodeBatch(['hello', long], { max_length: 5 });
  assert.deepEqual(batch.map((b) => b.input_ids.length), [3, 5]);
});

test('decode joins word pieces', async () => {
  const tok = await tokP;
  assert.equal(await tok.decode(await ids('Hello, world! unaffable')), 'hello, world! unaffable');
  assert.equal(tok.idToToken(103), '[MASK]');
});
