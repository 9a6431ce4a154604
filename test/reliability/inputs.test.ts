/**
 * Input text: strict UTF-8 (an error naming the file and the byte offset; `--encoding-errors replace` reads on),
 * binary files and an empty corpus refused by `prepare`, and a failed `prepare` leaves no folders behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeUtf8, firstInvalidUtf8 } from '../../src/data/utf8.js';
import { prepare } from '../../src/data/prepare.js';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { configFromDict } from '../../src/model/config.js';
import { assertUserError, runCli, tmp } from './helpers.js';

const dir = tmp('inputs');
after(() => rmSync(dir, { recursive: true, force: true }));

test('firstInvalidUtf8: offsets of invalid, overlong, surrogate, out-of-range and truncated sequences', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  assert.equal(firstInvalidUtf8(Buffer.from('héllo wörld € 𝄞', 'utf8')), -1);
  assert.equal(firstInvalidUtf8(b(0x61, 0x62, 0xe9, 0x63)), 2);          // Latin-1 é
  assert.equal(firstInvalidUtf8(b(0x61, 0xc0, 0xaf)), 1);                // overlong '/'
  assert.equal(firstInvalidUtf8(b(0x61, 0x61, 0xed, 0xa0, 0x80)), 2);    // UTF-16 surrogate
  assert.equal(firstInvalidUtf8(b(0xf4, 0x90, 0x80, 0x80)), 0);          // > U+10FFFF
  assert.equal(firstInvalidUtf8(b(0x61, 0xe2, 0x82)), 1);                // cut short
  assert.equal(firstInvalidUtf8(b(0x61, 0x80)), 1);                      // lone continuation
  assert.throws(() => decodeUtf8(b(0x61, 0xff), 'f.txt', 'strict', 100), /f\.txt: invalid UTF-8 at byte offset 101/);
  assert.equal(decodeUtf8(b(0x61, 0xff), 'f.txt', 'replace'), 'a\ufffd');
});

test('pipeline --file: invalid UTF-8 is an error naming the file and byte offset; --encoding-errors replace reads it', () => {
  const model = join(dir, 'mlm');
  savePretrained(new MosaicBertForMaskedLM(configFromDict({ vocab_size: 30528, hidden_size: 16, num_hidden_layers: 1,
    num_attention_heads: 2, intermediate_size: 32 }), { initSeed: 2 }), model);
  const f = join(dir, 'latin1.txt');
  writeFileSync(f, Buffer.concat([Buffer.from('first [MASK] line\ncaf'), Buffer.from([0xe9]), Buffer.from(' [MASK]\n')]));
  const out = join(dir, 'out.jsonl');
  writeFileSync(out, 'previous\n');
  assertUserError(runCli(['fill-mask', '--model', model, '--file', f, '--out', out]), /latin1\.txt: invalid UTF-8 at byte offset 21 .*--encoding-errors replace/);
  assertUserError(runCli(['embed', '--model', model, '--file', f, '--encoding-errors', 'ignore']), /--encoding-errors must be 'strict' or 'replace', got 'ignore'/);
  const r = runCli(['fill-mask', '--model', model, '--file', f, '--encoding-errors', 'replace']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /caf\\ufffd|caf\ufffd/);
});

test('prepare: invalid UTF-8 (also inside .gz), a binary file, an empty corpus: errors naming the file; nothing left behind', async () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['bad.jsonl', Buffer.concat([Buffer.from('{"text": "fine"}\n{"text": "na'), Buffer.from([0xef, 0xbb]), Buffer.from('"}\n')]),
      /bad\.jsonl: invalid UTF-8 at byte offset 29/],
    ['bad.txt.gz', gzipSync(Buffer.concat([Buffer.from('ok\n\nx'), Buffer.from([0x80])])), /bad\.txt\.gz \(decompressed\): invalid UTF-8 at byte offset 5/],
    ['image.txt', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]), /image\.txt: a NUL byte at byte offset 8: a binary file/],
    ['empty.txt', Buffer.from('\n   \n\n'), /empty\.txt: no text to prepare \(0 documents read/],
    ['blank.jsonl', Buffer.from('{"text": ""}\n{"text": "   "}\n'), /blank\.jsonl: no text to prepare \(2 documents read, 2 of them empty\)/],
  ];
  for (const [name, bytes, re] of cases) {
    const f = join(dir, name);
    writeFileSync(f, bytes);
    const out = join(dir, `prep-${name}`);
    await assert.rejects(prepare({ inputs: [f], out_dir: out }), re);
    assert.equal(existsSync(out), false, `${name}: the output folder it created is removed`);
    assertUserError(runCli(['prepare', f, '--out', out, '--no-progress']), re);
    assert.equal(existsSync(out), false);
  }
  // An existing output folder is kept (only what the run created goes).
  const keep = join(dir, 'existing');
  mkdirSync(keep);
  writeFileSync(join(keep, 'notes.md'), 'mine');
  await assert.rejects(prepare({ inputs: [join(dir, 'empty.txt')], out_dir: keep }), /no text/);
  assert.deepEqual(readdirSync(keep), ['notes.md']);
  // The escape hatch reads the invalid byte as U+FFFD.
  const r = await prepare({ inputs: [join(dir, 'bad.jsonl')], out_dir: join(dir, 'prep-replace'), val_fraction: 0, encoding_errors: 'replace' });
  assert.equal(r.documents, 2);
  assert.ok(runCli(['prepare', join(dir, 'bad.jsonl'), '--out', join(dir, 'prep-replace2'), '--encoding-errors', 'replace', '--no-progress']).status === 0);
});

test('prepare CLI: numeric options are validated with their meaning', () => {
  const f = join(dir, 'ok.txt');
  writeFileSync(f, 'some text\n');
  const out = join(dir, 'prep-opts');
  assertUserError(runCli(['prepare', f, '--out', out, '--max-seq-len', '2']), /--max-seq-len: expected tokens per sample, an integer in \[3, 65535\], got '2'/);
  assertUserError(runCli(['prepare', f, '--out', out, '--val-fraction', '1']), /--val-fraction: expected the fraction of documents for validation, in \[0, 1\), got '1'/);
  assertUserError(runCli(['prepare', f, '--out', out, '--max-documents', '0']), /--max-documents: expected a document count, an integer >= 1, got '0'/);
  assertUserError(runCli(['prepare', f, '--out', out, '--mode', 'windows']), /--mode: expected 'truncate' or 'chunk', got 'windows'/);
  assert.equal(existsSync(out), false);
});
