/**
 * `mosaicbert eval` on tiny random models (the command run in-process through commander, plus one real process for
 * the exit status): on a prepared folder (its val split) and on raw JSONL text the JSON output equals evaluateMlm on
 * the same model and data, with the encoder sparsity of a sparse model; the text table; `--task sst2` equals
 * evaluate() on the same dev lines, and so does --dev on them as a custom TSV; user errors name the flag or file,
 * and print as one line with exit 2.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromDict } from '../../src/model/config.js';
import { BertForMaskedLM, MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { bertConfigFromDict } from '../../src/model/bert_config.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { fromPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { prepare } from '../../src/data/prepare.js';
import { TokenDataset } from '../../src/data/token_dataset.js';
import { evaluateMlm } from '../../src/train/evaluate_mlm.js';
import { encodeExamples, evaluate } from '../../src/glue/finetune.js';
import { readGlueSplit } from '../../src/glue/tasks.js';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { Command } from 'commander';
import { registerEval } from '../../src/cli/eval.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'mosaicbert.js');
const DEV = '../shared/data/glue/SST-2/dev.tsv';
const shape = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 };

/** Runs `mosaicbert eval ARGS` in this process; returns what it printed on stdout. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerEval(program);
  const out: string[] = [], log = console.log;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  try {
    await program.parseAsync(['eval', ...args, '--no-progress'], { from: 'user' });
  } finally {
    console.log = log;
  }
  return out.join('\n');
}
const json = async (args: string[]) => JSON.parse(await cli([...args, '--json'])) as Record<string, number | string>;

let d: string;
before(async () => {
  d = mkdtempSync(join(tmpdir(), 'mb-eval-cli-'));
  const mlm = new MosaicBertForMaskedLM(configFromDict(shape), { initSeed: 8 });
  // Zero every third weight of the encoder's projections: a sparse model.
  for (const l of mlm.encoder.linears()) for (let i = 0; i < l.weight.length; i += 3) l.weight[i] = 0;
  savePretrained(mlm, join(d, 'mlm'));
  savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...shape, id2label: { 0: 'negative', 1: 'positive' } }),
    { initSeed: 9 }), join(d, 'clf'));
  const words = 'the river city music film war game house state century school team season world county'.split(' ');
  writeFileSync(join(d, 'c.jsonl'), Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({ text: Array.from({ length: 6 + (i % 9) }, (_, j) => words[(i * 7 + j * j) % words.length]).join(' ') + '.' })).join('\n') + '\n');
  await prepare({ inputs: [join(d, 'c.jsonl')], out_dir: join(d, 'prepared'), max_seq_len: 32, val_fraction: 0.5, seed: 3 });
});
after(() => rmSync(d, { recursive: true, force: true }));

test('eval --data: a prepared folder (val split) and raw text give what evaluateMlm gives in-process', async () => {
  const model = fromPretrained(join(d, 'mlm'), { head: 'mlm', dtype: 'fp32' });
  const val = TokenDataset.open(join(d, 'prepared', 'val'));
  const a = await json(['--model', join(d, 'mlm'), '--data', join(d, 'prepared'), '--batch-size', '4', '--seed', '11']);
  const ra = evaluateMlm(model, val, { batch_size: 4, seed: 11 });
  assert.deepEqual({ loss: a.loss, accuracy: a.accuracy, num_targets: a.num_targets, samples: a.samples, perplexity: a.perplexity },
    { loss: ra.loss, accuracy: ra.accuracy, num_targets: ra.num_targets, samples: val.num_samples, perplexity: Math.exp(ra.loss) });
  assert.equal(a.encoder_sparsity, model.encoderSparsity());
  assert.ok(Math.abs(model.encoderSparsity() - 1 / 3) < 0.01, `sparsity ${model.encoderSparsity()}`);
  assert.equal(a.data, join(d, 'prepared', 'val'));

  // Raw text: every document (no validation split), tokenized at --max-seq-len, cut at --max-samples.
  const b = await json(['--model', join(d, 'mlm'), '--data', join(d, 'c.jsonl'), '--max-seq-len', '32', '--max-samples', '10', '--mlm-probability', '0.3']);
  await prepare({ inputs: [join(d, 'c.jsonl')], out_dir: join(d, 'all'), max_seq_len: 32, val_fraction: 0 });
  const rb = evaluateMlm(model, TokenDataset.open(join(d, 'all', 'train')), { max_samples: 10, mlm_probability: 0.3 });
  assert.deepEqual([b.loss, b.accuracy, b.num_targets, b.samples], [rb.loss, rb.accuracy, rb.num_targets, 10]);

  const t = await cli(['--model', join(d, 'mlm'), '--data', join(d, 'prepared'), '--split', 'train']);
  const loss = Number(/^MLM loss +([0-9.]+) nats$/m.exec(t)?.[1]), ppl = Number(/^perplexity +([0-9.]+)$/m.exec(t)?.[1]);
  assert.ok(Math.abs(ppl - Math.exp(loss)) < 0.01 * ppl, t);   // both printed rounded (4 and 2 decimals)
  assert.match(t, /^accuracy +\d+\.\d\d% /m);
  assert.match(t, /encoder sparsity 33\.\d\d%/);
});

test('eval --data: classic BERT, --dtype q8, and data prepared longer than a BERT position table', async () => {
  for (const [name, positions] of [['bert', 64], ['bert16', 16]] as const) {
    savePretrained(new BertForMaskedLM(bertConfigFromDict({ ...shape, vocab_size: 30522, max_position_embeddings: positions }), { initSeed: 4 }),
      join(d, name));
  }
  const r = await json(['--model', join(d, 'bert'), '--data', join(d, 'prepared'), '--dtype', 'q8']);
  const direct = evaluateMlm(fromPretrained(join(d, 'bert'), { head: 'mlm', dtype: 'q8' }), TokenDataset.open(join(d, 'prepared', 'val')));
  assert.deepEqual([r.model_type, r.dtype, r.loss, r.num_targets], ['bert', 'q8', direct.loss, direct.num_targets]);
  await assert.rejects(cli(['--model', join(d, 'bert16'), '--data', join(d, 'prepared')]),
    (e: Error) => e.message === `--data: ${join(d, 'prepared', 'val')} was prepared with max_seq_len 32, more than the model's max_position_embeddings (16); ` +
      'prepare the text with a smaller --max-seq-len');
});

test('eval --task sst2 equals evaluate() on the same dev lines', { skip: existsSync(DEV) ? false : 'no ../shared GLUE data' }, async () => {
  const r = await json(['--model', join(d, 'clf'), '--task', 'sst2', '--max-samples', '24', '--batch-size', '8']);
  const model = fromPretrained(join(d, 'clf'), { head: 'classification', dtype: 'fp32' });
  const ex = readGlueSplit('sst2', DEV).slice(0, 24);
  const direct = evaluate(model, await encodeExamples(await BertTokenizer.bertBaseUncased(), ex, 256), ex.map((e) => e.label), ['accuracy'], 8);
  assert.deepEqual(r.metrics, { dev: direct });
  assert.deepEqual(r.examples, { dev: 24 });
  // The same lines as a custom TSV (--dev with its columns): the same accuracy, plus F1 (two classes).
  writeFileSync(join(d, 'dev.tsv'), 'review\tverdict\n' + ex.map((e) => `${e.text}\t${e.label ? 'positive' : 'negative'}`).join('\n') + '\n');
  const c = await json(['--model', join(d, 'clf'), '--dev', join(d, 'dev.tsv'), '--text-column', 'review', '--label-column', 'verdict', '--batch-size', '8']);
  assert.equal((c.metrics as unknown as Record<string, Record<string, number>>).dev.accuracy, direct.accuracy);
});

test('eval: user errors name the flag or file; the process prints one line and exits 2', async () => {
  const cases: Array<[string[], string]> = [
    [['--model', join(d, 'mlm'), '--data', join(d, 'nope')], `--data: ${join(d, 'nope')}: no such file or folder`],
    [['--model', join(d, 'mlm'), '--task', 'sst2'], `--model: ${join(d, 'mlm')} has no classifier (classifier.* missing): ` +
      'fine-tune it first (mosaicbert finetune), or evaluate an MLM with --data'],
    [['--model', join(d, 'clf'), '--data', join(d, 'prepared')], `--model: ${join(d, 'clf')} has no MLM head (cls.predictions.* missing): ` +
      'evaluate a classifier with --task or --dev'],
    [['--model', join(d, 'mlm'), '--data', join(d, 'c.jsonl'), '--mlm-probability', '1.5'], "--mlm-probability: expected a number in [0, 1], got '1.5'"],
    [['--model', join(d, 'mlm'), '--data', join(d, 'prepared', 'val'), '--split', 'train'],
      `--split applies to a prepared folder with train/ and val/; ${join(d, 'prepared', 'val')} is one split`],
    [['--model', join(d, 'clf'), '--task', 'sst2', '--format', 'csv'], '--format applies to a custom dev file (--dev) only'],
  ];
  for (const [args, msg] of cases) await assert.rejects(cli(args), (e: Error) => e.message === msg);
  const p = spawnSync(process.execPath, [bin, 'eval', ...cases[0][0]], { encoding: 'utf8' });
  assert.equal(p.status, 2, p.stderr);
  assert.equal(p.stderr, `mosaicbert: ${cases[0][1]}\n`);
});
