// One-shot pruning of a trained MLM model at several sparsities: validation MLM loss and masked-token accuracy
// (15% masking, seeded, the trainer's evaluation) for global magnitude (gmp) and oBERT at the given block sizes.
// Every run starts from the dense model; gradients come from the train split (batches of --grad-batch, 30% MLM
// masking, model in eval mode). Prints a Markdown table and writes JSON.
//
//   node bench/prune_oneshot.mjs --model runs/mosaic-bert-mini/model --data runs/.cache/prepared-XXXX \
//     --sparsities 0.5,0.7,0.8,0.9 --methods gmp,obert:1,obert:50 --num-grads 64 --out bench/prune_oneshot.json
//
// Other flags: --mask-type block4, --damp 1e-7, --grad-batch 16, --recomputations 1, --eval-batches 8.
//
// Needs `npm run build` first. `--data` is a folder made by `mosaicbert prepare` (train/ and val/).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromPretrained } from '../dist/src/interop/pretrained.js';
import { TokenDataset } from '../dist/src/data/token_dataset.js';
import { DataLoader } from '../dist/src/data/loader.js';
import { evaluateMlm } from '../dist/src/train/evaluate_mlm.js';
import { oneShotPrune } from '../dist/src/pruning/one_shot.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const sparsities = (args.sparsities ?? '0.5,0.7,0.8,0.9').split(',').map(Number);
const methods = (args.methods ?? 'gmp,obert:1,obert:50').split(',');
const numGrads = Number(args['num-grads'] ?? 64), gradBatch = Number(args['grad-batch'] ?? 16), damp = Number(args.damp ?? 1e-7);
const evalBatches = Number(args['eval-batches'] ?? 8), seed = 17, R = Number(args.recomputations ?? 1);
const train = TokenDataset.open(join(args.data, 'train')), val = TokenDataset.open(join(args.data, 'val'));

const asBatch = (b) => ({ batch: b.batch_size, seqlen: b.seq_len, input_ids: b.input_ids, attention_mask: b.attention_mask,
  token_type_ids: b.token_type_ids, labels: b.labels });
const gradBatches = () => ({ *[Symbol.iterator]() {
  const l = new DataLoader(train, { batch_size: gradBatch, seed, pad_to: 'longest', mlm: { mlm_probability: 0.3, seed } });
  for (;;) yield asBatch(l.next());
} });

function evaluate(model) {
  const r = evaluateMlm(model, val, { batch_size: 32, seed, max_batches: evalBatches });
  return { loss: r.loss, accuracy: r.accuracy, targets: r.num_targets };
}

const results = [];
const dense = evaluate(fromPretrained(args.model, { head: 'mlm' }));
console.error(`dense: loss ${dense.loss.toFixed(4)} acc ${(100 * dense.accuracy).toFixed(2)}% (${dense.targets} targets)`);
results.push({ method: 'dense', sparsity: 0, ...dense });
for (const m of methods) {
  const [method, bs] = m.split(':');
  for (const s of sparsities) {
    const model = fromPretrained(args.model, { head: 'mlm' });
    const t0 = performance.now();
    const r = oneShotPrune(model, { method, sparsity: s, blockSize: bs ? Number(bs) : undefined, numGrads, dampening: damp,
      gradBatches, maskType: args['mask-type'] ?? 'unstructured', numRecomputations: R });
    const prune_s = (performance.now() - t0) / 1000;
    const e = evaluate(model);
    console.error(`${m} ${s}: loss ${e.loss.toFixed(4)} acc ${(100 * e.accuracy).toFixed(2)}% achieved ${(100 * r.achievedSparsity).toFixed(2)}% prune ${prune_s.toFixed(1)} s`);
    results.push({ method: m, sparsity: s, achieved: r.achievedSparsity, prune_s, ...e });
  }
}
const head = `| method | ${sparsities.map((s) => `${Math.round(100 * s)}%`).join(' | ')} |`;
const lines = [head, `|---|${sparsities.map(() => '---').join('|')}|`];
for (const m of methods) lines.push(`| ${m} | ${sparsities.map((s) => results.find((x) => x.method === m && x.sparsity === s).loss.toFixed(3)).join(' | ')} |`);
console.log(`dense validation MLM loss ${dense.loss.toFixed(3)}\n` + lines.join('\n'));
if (args.out) writeFileSync(args.out, JSON.stringify({ args, numGrads, gradBatch, damp, results }, null, 2) + '\n');
