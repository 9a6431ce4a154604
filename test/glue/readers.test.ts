import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findGlueTasks, loadGlueTask, parseTsv, readGlueSplit, taskName } from '../../src/glue/tasks.js';
import { parseCsv, readLabelledFile } from '../../src/glue/generic.js';

const GLUE = '../shared/data/glue';
const have = (p: string) => existsSync(join(GLUE, p));
const skipUnless = (p: string) => (have(p) ? false : `${join(GLUE, p)} not present`);

test('task names', () => {
  assert.equal(taskName('SST-2'), 'sst2');
  assert.equal(taskName('STS-B'), 'stsb');
  assert.equal(taskName('MNLI'), 'mnli');
  assert.throws(() => taskName('squad'), /unknown GLUE task 'squad'/);
});

test('CoLA: no header, 8551 / 1043 rows', { skip: skipUnless('CoLA/dev.tsv') }, () => {
  const d = loadGlueTask('cola', GLUE);
  assert.equal(d.train.examples.length, 8551);
  assert.equal(d.eval[0].examples.length, 1043);
  assert.deepEqual(d.train.examples[0], { text: "Our friends won't buy this analysis, let alone the next one we propose.", label: 1 });
  assert.deepEqual(d.eval[0].examples[0], { text: 'The sailors rode the breeze clear of the rocks.', label: 1 });
  assert.ok(d.train.examples.some((e) => e.label === 0));
});

test('SST-2: header, 67349 / 872 rows', { skip: skipUnless('SST-2/dev.tsv') }, () => {
  const d = loadGlueTask('SST-2', GLUE);
  assert.equal(d.train.examples.length, 67349);
  assert.equal(d.eval[0].examples.length, 872);
  assert.deepEqual(d.eval[0].examples[0], { text: "it 's a charming and often affecting journey . ", label: 1 });
  assert.equal(d.eval[0].examples.filter((e) => e.label === 1).length, 444);
});

test('MRPC: BOM stripped, 3668 / 408 rows, quotes kept verbatim', { skip: skipUnless('MRPC/dev.tsv') }, () => {
  const d = loadGlueTask('mrpc', GLUE);
  assert.equal(d.train.examples.length, 3668);
  assert.equal(d.eval[0].examples.length, 408);
  const e = d.train.examples[0];
  assert.equal(e.label, 1);
  assert.equal(e.text, 'Amrozi accused his brother, whom he called "the witness", of deliberately distorting his evidence.');
  assert.equal(e.text_pair, 'Referring to him as only "the witness", Amrozi accused his brother of deliberately distorting his evidence.');
  // dev row 1: the second sentence starts with an unmatched double quote (quoting off keeps it).
  assert.equal(d.eval[0].examples[0].text_pair, '"The foodservice pie business does not fit our long-term growth strategy.');
});

test('STS-B: named columns, float score, 5749 / 1500 rows', { skip: skipUnless('STS-B/dev.tsv') }, () => {
  const d = loadGlueTask('stsb', GLUE);
  assert.equal(d.train.examples.length, 5749);
  assert.equal(d.eval[0].examples.length, 1500);
  assert.deepEqual(d.train.examples[0], { text: 'A plane is taking off.', text_pair: 'An air plane is taking off.', label: 5 });
  assert.ok(d.train.examples.every((e) => e.label >= 0 && e.label <= 5));
  assert.ok(d.train.examples.some((e) => !Number.isInteger(e.label)));
});

test('QNLI dev: text labels mapped (entailment 0, not_entailment 1), 5463 rows', { skip: skipUnless('QNLI/dev.tsv') }, () => {
  const ex = readGlueSplit('qnli', join(GLUE, 'QNLI/dev.tsv'));
  assert.equal(ex.length, 5463);
  assert.equal(ex[0].text, 'What came into force after the new constitution was herald?');
  assert.equal(ex[0].label, 0);
  assert.equal(ex.filter((e) => e.label === 0).length, 2702);
});

test('WNLI: 635 / 71 rows', { skip: skipUnless('WNLI/dev.tsv') }, () => {
  const d = loadGlueTask('wnli', GLUE);
  assert.equal(d.train.examples.length, 635);
  assert.equal(d.eval[0].examples.length, 71);
  assert.equal(d.eval[0].examples[0].text, 'The drain is clogged with hair. It has to be cleaned.');
  assert.equal(d.eval[0].examples.filter((e) => e.label === 0).length, 40);
});

test('findGlueTasks: QNLI without train is not found', { skip: skipUnless('SST-2/dev.tsv') }, () => {
  const { found, missing } = findGlueTasks(GLUE);
  for (const t of ['sst2', 'cola', 'mrpc', 'stsb', 'wnli']) assert.ok(found.includes(t), t);
  assert.ok(!found.includes('qnli'));
  assert.match(missing.qnli[0], /QNLI\/train\.tsv$/);
});

test('quoting off, BOM, CRLF, errors name file and line (synthetic files)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glue-'));
  const p = join(dir, 'mrpc.tsv');
  writeFileSync(p, '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\tHe said "hi\tShe said "bye"\r\n0\t3\t4\ta\tb\n');
  const ex = readGlueSplit('mrpc', p);
  assert.deepEqual(ex, [{ text: 'He said "hi', text_pair: 'She said "bye"', label: 1 }, { text: 'a', text_pair: 'b', label: 0 }]);
  const t = parseTsv('\ufeffa\tb\n"x\ty"\n', 'mem', true);
  assert.deepEqual(t.header, ['a', 'b']);
  assert.deepEqual(t.rows[0].cells, ['"x', 'y"']);
  const bad = join(dir, 'rte.tsv');
  writeFileSync(bad, 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n');
  assert.throws(() => readGlueSplit('rte', bad), (e: Error) => e.message.includes(`${bad}:3`) && e.message.includes("'maybe'"));
  const short = join(dir, 'cola.tsv');
  writeFileSync(short, 'src\t1\t\tok sentence\nsrc\t0\n');
  assert.throws(() => readGlueSplit('cola', short), new RegExp(`${short.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2`));
  const mnli = join(dir, 'mnli.tsv');
  writeFileSync(mnli, 'index\tsentence1\tsentence2\tlabel1\tgold_label\n0\tp\th\tneutral\tcontradiction\n');
  assert.deepEqual(readGlueSplit('mnli', mnli), [{ text: 'p', text_pair: 'h', label: 2 }]);
});

test('generic CSV / TSV / JSONL readers', () => {
  assert.deepEqual(parseCsv('a,b\n"x, ""y""",2\r\n"multi\nline",3\n').map((r) => r.cells),
    [['a', 'b'], ['x, "y"', '2'], ['multi\nline', '3']]);
  const dir = mkdtempSync(join(tmpdir(), 'glue-gen-'));
  const csv = join(dir, 'd.csv');
  writeFileSync(csv, 'text,label\n"good, really",pos\nbad,neg\n');
  const c = readLabelledFile(csv, { textColumn: 'text', labelColumn: 'label' });
  assert.deepEqual(c.labels, ['neg', 'pos']);
  assert.deepEqual(c.examples, [{ text: 'good, really', text_pair: undefined, label: 1 }, { text: 'bad', text_pair: undefined, label: 0 }]);
  const tsv = join(dir, 'd.tsv');
  writeFileSync(tsv, 's1\ts2\ty\n"a\tb\t0.5\n');
  const t = readLabelledFile(tsv, { textColumn: 's1', textPairColumn: 's2', labelColumn: 'y', regression: true });
  assert.deepEqual(t.examples, [{ text: '"a', text_pair: 'b', label: 0.5 }]);
  const jl = join(dir, 'd.jsonl');
  writeFileSync(jl, '{"t":"x","l":2}\n\n{"t":"y","l":0}\n');
  const j = readLabelledFile(jl, { textColumn: 't', labelColumn: 'l' });
  assert.deepEqual(j.labels, ['0', '1', '2']);
  assert.deepEqual(j.examples.map((e) => e.label), [2, 0]);
  writeFileSync(jl, '{"t":"x","l":2}\n{"t":"y"}\n');
  assert.throws(() => readLabelledFile(jl, { textColumn: 't', labelColumn: 'l' }), /d\.jsonl:2: no 'l'/);
});
