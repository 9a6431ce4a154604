/**
 * Checkpoint verification and fallback, removal of incomplete checkpoint folders, errors naming the damaged file,
 * the torn-last-line repair of log.jsonl, and `report` on a log with a torn line.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Trainer } from '../../src/train/trainer.js';
import { findResumeCheckpoint, listCheckpoints, loadCheckpoint, pruneCheckpoints, removeIncompleteCheckpoints, verifyCheckpoint } from '../../src/train/checkpoint.js';
import { repairRunLog } from '../../src/train/run_log.js';
import { readRunLog, writeReport } from '../../src/report/html.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { tinyConfig, tinyCorpus } from '../train/helpers.js';
import { assertUserError, runCli } from './helpers.js';

let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
let pristine: string;   // a run folder with checkpoints ba2, ba4, ba6 (copied per test)
before(async () => {
  corpus = await tinyCorpus();
  pristine = join(corpus.dir, 'pristine');
  const t = new Trainer({ config: tinyConfig(['save_interval=2ba', 'max_duration=6ba', 'save_num_checkpoints_to_keep=-1']), train: corpus.train, val: corpus.val, runDir: pristine });
  await t.fit();
});
after(() => corpus.cleanup());

let n = 0;
function copyRun(): { run: string; ck: string } {
  const run = join(corpus.dir, `run${n++}`);
  cpSync(pristine, run, { recursive: true });
  return { run, ck: join(run, 'checkpoints') };
}

test('each kind of damage to the newest checkpoint is detected and named; resume falls back to the newest intact one', () => {
  const damage: Array<[string, (d: string) => void, RegExp]> = [
    ['truncated model.safetensors', (d) => truncateSync(join(d, 'model.safetensors'), statSync(join(d, 'model.safetensors')).size - 100), /ba6\/model\.safetensors: \d+ bytes, the header describes \d+ \(truncated or damaged\)/],
    ['truncated optimizer header', (d) => truncateSync(join(d, 'optimizer.safetensors'), 20), /ba6\/optimizer\.safetensors: truncated \(header of \d+ bytes, file of 20\)/],
    ['padded model.safetensors', (d) => appendFileSync(join(d, 'model.safetensors'), 'xx'), /ba6\/model\.safetensors: \d+ bytes, the header describes/],
    ['truncated state.json', (d) => truncateSync(join(d, 'state.json'), 100), /ba6\/state\.json: invalid checkpoint state \(.*\); the file is damaged or truncated/],
    ['missing state.json', (d) => rmSync(join(d, 'state.json')), /ba6\/state\.json: cannot read \(ENOENT\)/],
    ['empty model.safetensors', (d) => writeFileSync(join(d, 'model.safetensors'), ''), /ba6\/model\.safetensors: truncated \(0 bytes\)/],
  ];
  for (const [what, hurt, re] of damage) {
    const { ck } = copyRun();
    const ba6 = join(ck, 'ba6');
    assert.equal(verifyCheckpoint(ba6), null, 'intact before');
    hurt(ba6);
    assert.match(verifyCheckpoint(ba6) ?? '', re, what);
    const found = findResumeCheckpoint(ck);
    assert.equal(found.dir, join(ck, 'ba4'), what);
    assert.equal(found.skipped.length, 1);
    assert.match(found.skipped[0].problem, re);
  }
  // Nothing intact: no checkpoint, every problem listed.
  const { ck } = copyRun();
  for (const c of listCheckpoints(ck)) truncateSync(join(c.dir, 'state.json'), 10);
  const none = findResumeCheckpoint(ck);
  assert.equal(none.dir, null);
  assert.equal(none.skipped.length, 3);
});

test('loading a damaged checkpoint names the file (a truncated state.json no longer gives a bare JSON error)', () => {
  const { ck } = copyRun();
  truncateSync(join(ck, 'ba6', 'state.json'), 300);
  const model = new MosaicBertForMaskedLM(tinyConfig().model, { noInit: true });
  assert.throws(() => loadCheckpoint(join(ck, 'ba6'), model.params, null), (e: Error) =>
    e.message.startsWith(`${join(ck, 'ba6', 'state.json')}: invalid checkpoint state (`));
  truncateSync(join(ck, 'ba4', 'model.safetensors'), 1000);
  assert.throws(() => loadCheckpoint(join(ck, 'ba4'), model.params, null), new RegExp(`${join(ck, 'ba4', 'model.safetensors').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
});

test('incomplete checkpoint folders (no COMPLETE, .tmp-*, .trash-*) are removed; complete ones kept', () => {
  const { ck } = copyRun();
  rmSync(join(ck, 'ba4', 'COMPLETE'));                       // a removal killed half-way (older versions)
  mkdirSync(join(ck, '.tmp-ba8-999999'));                    // a save killed half-way
  writeFileSync(join(ck, '.tmp-ba8-999999', 'model.safetensors'), 'partial');
  mkdirSync(join(ck, '.trash-ba2-999999'));                  // a removal killed half-way (this version)
  const gone = removeIncompleteCheckpoints(ck).map((p) => p.slice(ck.length + 1)).sort();
  assert.deepEqual(gone, ['.tmp-ba8-999999', '.trash-ba2-999999', 'ba4']);
  assert.deepEqual(readdirSync(ck).sort(), ['ba2', 'ba6']);
  // Pruning renames before deleting: no ba<step> folder is ever half-deleted.
  assert.deepEqual(pruneCheckpoints(ck, 1).map((p) => p.slice(ck.length + 1)), ['ba2']);
  assert.deepEqual(readdirSync(ck), ['ba6']);
});

test('log.jsonl: a torn last line is dropped and reported; an intact log is left alone', () => {
  const { run } = copyRun();
  const log = join(run, 'log.jsonl');
  const intact = readFileSync(log, 'utf8');
  const lines = intact.trim().split('\n').length;
  assert.deepEqual(repairRunLog(log), { dropped: null, line: 0, message: null });
  assert.equal(readFileSync(log, 'utf8'), intact);
  appendFileSync(log, '{"type":"step","step":7,"sampl');
  const r = repairRunLog(log);
  assert.equal(r.dropped, '{"type":"step","step":7,"sampl');
  assert.equal(r.line, lines + 1);
  assert.match(r.message ?? '', new RegExp(`log\\.jsonl:${lines + 1}: dropped a torn last line \\(30 bytes`));
  assert.equal(readFileSync(log, 'utf8'), intact, 'back to the intact log, byte for byte');
  // A complete last record that only lacks its newline keeps the record.
  appendFileSync(log, '{"type":"warning","message":"x"}');
  assert.equal(repairRunLog(log).dropped, null);
  assert.equal(readFileSync(log, 'utf8'), intact + '{"type":"warning","message":"x"}\n');
});

test('report tolerates and reports a torn line (last, or glued inside the log by an older version)', () => {
  const { run } = copyRun();
  const log = join(run, 'log.jsonl');
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  lines.splice(3, 1, lines[3].slice(0, 25) + lines[4]);         // a torn record glued to the next one
  writeFileSync(log, lines.join('\n') + '\n{"type":"step","st');
  const parsed = readRunLog(run);
  assert.equal(parsed.skipped.length, 2);
  assert.match(parsed.skipped[0], /log\.jsonl:4: not a JSON line \(a torn write\?\), skipped/);
  assert.match(parsed.skipped[1], new RegExp(`log\\.jsonl:${lines.length + 1}: not a JSON line`));
  assert.ok(parsed.steps.length >= 5, 'the other records are read');
  const r = runCli(['report', run]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: .*log\.jsonl:4: not a JSON line/);
  assert.ok(existsSync(join(run, 'report.html')));
  assert.match(readFileSync(writeReport(run), 'utf8'), /skipped log line/);
  // An unusable -o is an error naming it; nothing half-written.
  const bad = runCli(['report', run, '-o', join(run, 'nope', 'r.html')]);
  assertUserError(bad, /--out .*nope\/r\.html: the folder .*nope does not exist/);
  assertUserError(runCli(['report', run, '-o', run]), /is a folder, expected a file path/);
  assert.deepEqual(readdirSync(run).filter((f) => f.includes('.tmp-')), []);
});

// The Trainer API (without the CLI, which does the same before constructing it) verifies checkpoints, falls back,
// cleans up and repairs the log itself.
test('Trainer({ resume: true }) falls back past a damaged newest checkpoint, cleans up and repairs the log', async () => {
  const { run, ck } = copyRun();
  truncateSync(join(ck, 'ba6', 'state.json'), 100);
  mkdirSync(join(ck, '.tmp-ba8-999999'));
  appendFileSync(join(run, 'log.jsonl'), '{"type":"st');
  const warnings: string[] = [];
  const t = new Trainer({ config: tinyConfig(['save_interval=2ba', 'max_duration=6ba', 'save_num_checkpoints_to_keep=-1']),
    train: corpus.train, val: corpus.val, runDir: run, resume: true,
    onEvent: (e) => { if (e.type === 'warning') warnings.push(e.message); } });
  assert.equal(t.state.step, 4, 'resumed from ba4');
  await t.fit();
  assert.match(warnings.join('\n'), /ba6\/state\.json: invalid checkpoint state/);
  assert.match(warnings.join('\n'), /log\.jsonl:\d+: dropped a torn last line/);
  assert.equal(existsSync(join(ck, '.tmp-ba8-999999')), false);
  assert.equal(readRunLog(run).skipped.length, 0);
});
