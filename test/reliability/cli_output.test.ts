/**
 * Output files of the pipeline commands (`fill-mask` / `embed` / `classify --out`): written to a temporary name and
 * renamed on success, so a failed run leaves the previous file byte for byte and no temporary file; an unopenable
 * --out is an error naming the path; user errors print one line and no stack trace; `--debug` prints one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { isInternalError, reportCliError } from '../../src/cli/errors.js';
import { assertUserError, cli, runCli, tmp } from './helpers.js';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const tiny = { vocab_size: 30528, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 };
const dir = tmp('out');
const mlm = join(dir, 'mlm'), cls = join(dir, 'cls');
savePretrained(new MosaicBertForMaskedLM(configFromDict(tiny), { initSeed: 3 }), mlm);
savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...tiny, num_labels: 2 }), { initSeed: 4 }), cls);
after(() => rmSync(dir, { recursive: true, force: true }));

const PREVIOUS = '{"previous":"results"}\n';

/** The files of `dir` other than the models: no temporary file may be left. */
function leftovers(): string[] {
  return readdirSync(dir).filter((f) => f.includes('.tmp-'));
}

test('fill-mask --out: success replaces the file whole; a bad input later in the file leaves the previous file untouched', () => {
  const out = join(dir, 'fm.jsonl'), inputs = join(dir, 'fm.txt');
  writeFileSync(out, PREVIOUS);
  writeFileSync(inputs, 'a [MASK] b\nsecond [MASK]\nno mask here\n');
  // --batch-size 1: the first two inputs succeed (and would have been written) before line 3 fails.
  const bad = runCli(['fill-mask', '--model', mlm, '--file', inputs, '--batch-size', '1', '--out', out]);
  assertUserError(bad, /fm\.txt:3: /);
  assert.equal(readFileSync(out, 'utf8'), PREVIOUS, 'previous results kept byte for byte');
  assert.deepEqual(leftovers(), []);
  writeFileSync(inputs, 'a [MASK] b\nsecond [MASK]\n');
  const ok = runCli(['fill-mask', '--model', mlm, '--file', inputs, '--batch-size', '1', '--out', out]);
  assert.equal(ok.status, 0, ok.stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input: string });
  assert.deepEqual(lines.map((l) => l.input), ['a [MASK] b', 'second [MASK]']);
  assert.deepEqual(leftovers(), []);
});

test('embed / classify --out into a missing folder or onto a folder: an error naming the path, no stack trace', () => {
  const missing = join(dir, 'no-such-folder', 'x.jsonl');
  for (const [cmd, model] of [['embed', mlm], ['classify', cls], ['fill-mask', mlm]] as const) {
    const text = cmd === 'fill-mask' ? 'a [MASK]' : 'a text';
    assertUserError(runCli([cmd, '--model', model, '--out', missing, text]), new RegExp(`--out ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the folder .*no-such-folder does not exist`));
    assert.equal(existsSync(join(dir, 'no-such-folder')), false);
    const folder = join(dir, `folder-${cmd}`);
    mkdirSync(folder);
    assertUserError(runCli([cmd, '--model', model, '--out', folder, text]), /--out .*folder-\w+(-\w+)?: is a folder/);
    assert.deepEqual(readdirSync(folder), [], 'nothing written into the folder');
  }
});

test('classify --out: a bad --file line leaves the previous output; success writes every line', () => {
  const out = join(dir, 'cls.jsonl'), inputs = join(dir, 'cls.txt');
  writeFileSync(out, PREVIOUS);
  writeFileSync(inputs, 'one\ttwo\nthree\tfour\tfive\n');
  assertUserError(runCli(['classify', '--model', cls, '--file', inputs, '--out', out]), /cls\.txt:2: expected TEXT or TEXT<TAB>PAIR, found 3/);
  assert.equal(readFileSync(out, 'utf8'), PREVIOUS);
  const ok = runCli(['classify', '--model', cls, '--out', out, 'first', 'second']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 2);
  assert.deepEqual(leftovers(), []);
});

test('SIGTERM while writing --out: the temporary file is removed and the previous file kept', async () => {
  const out = join(dir, 'sig.jsonl'), inputs = join(dir, 'sig.txt');
  writeFileSync(out, PREVIOUS);
  writeFileSync(inputs, Array.from({ length: 5000 }, (_, i) => `line ${i} [MASK]`).join('\n'));
  const child = spawn(process.execPath, [cli, 'fill-mask', '--model', mlm, '--file', inputs, '--batch-size', '1', '--out', out], { stdio: 'ignore' });
  const done = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const tmpName = () => readdirSync(dir).find((f) => f.startsWith('sig.jsonl.tmp-'));
  for (let i = 0; i < 600 && !tmpName(); i++) await sleep(20);
  assert.ok(tmpName(), 'the temporary file exists while writing');
  await sleep(200);   // well into the inputs
  child.kill('SIGTERM');
  assert.equal(await done, 143, 'exited on the signal (not finished: 5000 inputs take far longer)');
  assert.equal(tmpName(), undefined, 'temporary file removed');
  assert.equal(readFileSync(out, 'utf8'), PREVIOUS);
  // A kill -9 cannot clean up: the next run onto the same file removes the dead process's temporary file.
  const child9 = spawn(process.execPath, [cli, 'fill-mask', '--model', mlm, '--file', inputs, '--batch-size', '1', '--out', out], { stdio: 'ignore' });
  const done9 = new Promise<string | null>((res) => child9.on('exit', (_c, sig) => res(sig)));
  for (let i = 0; i < 600 && !tmpName(); i++) await sleep(20);
  child9.kill('SIGKILL');
  assert.equal(await done9, 'SIGKILL');
  assert.ok(tmpName(), 'left by kill -9');
  const ok = runCli(['fill-mask', '--model', mlm, '--out', out, 'x [MASK]']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(tmpName(), undefined, 'removed by the next run');
});

test('user errors print one line without a stack trace; --debug adds the trace', () => {
  const r = runCli(['embed', '--model', join(dir, 'nope'), 'x']);
  assertUserError(r, /^mosaicbert: .*nope: no config\.json/m);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const d = runCli(['--debug', 'embed', '--model', join(dir, 'nope'), 'x']);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /no config\.json[\s\S]*\n\s+at /, 'stack trace with --debug');
  const d2 = runCli(['embed', '--model', join(dir, 'nope'), 'x', '--debug']);
  assert.match(d2.stderr, /\n\s+at /, '--debug after the command too');
});

test('internal errors (bugs) print one line and a hint to rerun with --debug, exit 1', () => {
  assert.equal(isInternalError(new TypeError('x is undefined')), true);
  assert.equal(isInternalError(new RangeError('bad')), true);
  assert.equal(isInternalError('thrown string'), true);
  assert.equal(isInternalError(new Error('--top-k must be a positive integer')), false);
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', syscall: 'open' });
  assert.equal(isInternalError(enoent), false);
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => { lines.push(s); };
  try {
    assert.equal(reportCliError(new TypeError("Cannot read properties of undefined (reading 'x')"), false), 1);
    assert.equal(reportCliError(new Error('bad.yaml: invalid YAML'), false), 2);
  } finally {
    console.error = orig;
  }
  assert.deepEqual(lines, [
    "mosaicbert: internal error: Cannot read properties of undefined (reading 'x')",
    'mosaicbert: this is a bug; rerun with --debug for the stack trace, and report it',
    'mosaicbert: bad.yaml: invalid YAML',
  ]);
});
