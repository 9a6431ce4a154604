/**
 * Parity harness against golden fixtures made by the reference (`make_fixtures.py`, layout of
 * ../shared/fixtures/mosaicbert-tiny): runs the MLM model (with and without the subset trick, with and without
 * labels), its backward, two DecoupledAdamW steps and both classification heads, and compares every tensor.
 * Tolerances are the fixture README's (fp32): forward 1e-4 abs, loss 1e-5 relative, gradients 1e-4 abs + 1e-3
 * relative, AdamW step 1 (from the fixture's gradients) 1e-6 abs, step 2 (from our gradients at our step-1
 * parameters) 1e-5 abs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '../kernels/types.js';
import { readConfig } from '../model/config.js';
import { readSafetensors, type Tensor } from '../io/safetensors.js';
import { MosaicBertForMaskedLM } from '../model/mlm.js';
import { MosaicBertForSequenceClassification } from '../model/classification.js';
import { padRows, unpadBatch } from '../model/batch.js';
import { DecoupledAdamW } from '../train/decoupled_adamw.js';

export interface CheckRow {
  name: string;
  /** Max |ours - expected|. */
  maxAbsErr: number;
  /** The tolerance, as text (e.g. '1e-4 abs' or '1e-4 + 1e-3|x|'). */
  tol: string;
  ok: boolean;
}

interface Tol { atol: number; rtol: number }
const FWD: Tol = { atol: 1e-4, rtol: 0 };
const GRAD: Tol = { atol: 1e-4, rtol: 1e-3 };
const EXACT: Tol = { atol: 0, rtol: 0 };

function compare(name: string, ours: ArrayLike<number>, exp: ArrayLike<number>, tol: Tol): CheckRow {
  let maxAbs = 0, ok = ours.length === exp.length;
  for (let i = 0; i < Math.min(ours.length, exp.length); i++) {
    const d = Math.abs(ours[i] - exp[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    if (!(d <= tol.atol + tol.rtol * Math.abs(exp[i]))) ok = false;
  }
  if (ours.length !== exp.length) maxAbs = Infinity;
  const tolText = tol.rtol ? `${tol.atol.toExponential(0)} + ${tol.rtol.toExponential(0)}|x|` : `${tol.atol === 0 ? '0' : tol.atol.toExponential(0)} abs`;
  return { name, maxAbsErr: maxAbs, tol: tolText, ok };
}

function lossRow(name: string, ours: number, exp: number): CheckRow {
  const d = Math.abs(ours - exp);
  return { name, maxAbsErr: d, tol: '1e-5 rel', ok: d <= 1e-5 * Math.abs(exp) };
}

function need(m: Map<string, Tensor>, name: string, file: string): Tensor {
  const t = m.get(name);
  if (!t) throw new Error(`${file}: tensor '${name}' is missing`);
  return t;
}

/**
 * Checks the fixture folder `dir`. Returns one row per tensor (in the order computed). Throws an Error naming the
 * file when the folder is not in the fixture layout.
 */
export function checkFixture(dir: string, opts: { kernels?: Kernels } = {}): CheckRow[] {
  for (const f of ['config.json', 'inputs.json', 'model.safetensors', 'expected_mlm.safetensors']) {
    if (!existsSync(join(dir, f))) throw new Error(`${dir}: missing ${f} (not a fixture folder)`);
  }
  const cfg = readConfig(join(dir, 'config.json'));
  const inputs = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
  const B: number = inputs.batch_size, S: number = inputs.seq_len;
  const flat = (a: number[][]) => Int32Array.from(a.flat());
  const batch = {
    batch: B, seqlen: S, input_ids: flat(inputs.input_ids), attention_mask: flat(inputs.attention_mask),
    token_type_ids: flat(inputs.token_type_ids),
  };
  const labels = flat(inputs.labels);
  const weights = readSafetensors(join(dir, 'model.safetensors')).tensors;
  const expFile = join(dir, 'expected_mlm.safetensors');
  const exp = readSafetensors(expFile).tensors;
  const E = (n: string) => need(exp, n, expFile).data;
  const rows: CheckRow[] = [];
  const H = cfg.hidden_size, V = cfg.vocab_size;

  const model = new MosaicBertForMaskedLM(cfg, { kernels: opts.kernels, noInit: true });
  const rep = model.loadStateDict(weights, join(dir, 'model.safetensors'));
  if (rep.missing.length) throw new Error(`${dir}/model.safetensors: missing parameters ${rep.missing.join(', ')}`);
  const k = model.k;

  // Structure: ALiBi slopes, the reference's dense bias, unpadding.
  const u = unpadBatch(batch);
  const slopes = model.encoder.slopes;
  rows.push(compare('alibi_slopes', slopes, E('alibi_slopes'), EXACT));
  const nh = cfg.num_attention_heads;
  const bias = new Float32Array(B * nh * S * S);
  for (let b = 0; b < B; b++) for (let h = 0; h < nh; h++) for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) {
    const padK = Math.fround((1 - batch.attention_mask[b * S + j]) * -10000);
    bias[((b * nh + h) * S + i) * S + j] = Math.fround(padK + Math.fround(-slopes[h] * Math.abs(j - i)));
  }
  rows.push(compare('attention_bias', bias, E('attention_bias'), EXACT));
  rows.push(compare('indices', u.indices, E('indices'), EXACT));
  rows.push(compare('cu_seqlens', u.cuSeqlens, E('cu_seqlens'), EXACT));

  // Full forward (no subset) with every intermediate.
  const full = model.forward({ ...batch, labels }, { useSubset: false, keepHiddenStates: true });
  const cap = model.encoder.captured;
  const embAll = new Float32Array(B * S * H);
  {
    // embedding_output is [B, S, H] with the pad rows computed too: run embeddings + LN on every position.
    const P = model.params;
    const ids = batch.input_ids, tt = batch.token_type_ids;
    k.embeddingForward(ids, tt, B * S, H, P.get('bert.embeddings.word_embeddings.weight'), V,
      P.get('bert.embeddings.token_type_embeddings.weight'), cfg.type_vocab_size, embAll);
    k.layerNormForward(embAll, null, P.get('bert.embeddings.LayerNorm.weight'), P.get('bert.embeddings.LayerNorm.bias'),
      B * S, H, cfg.layer_norm_eps, null, embAll, new Float32Array(B * S), new Float32Array(B * S));
  }
  rows.push(compare('embedding_output', embAll, E('embedding_output'), FWD));
  rows.push(compare('embedding_output_unpadded', cap.get('embedding_output')!, E('embedding_output_unpadded'), FWD));
  model.encoder.hiddenStates.forEach((hs, l) => rows.push(compare(`layer_${l}_output`, hs, E(`layer_${l}_output`), FWD)));
  for (const n of ['layer0.qkv', 'layer0.attn_context', 'layer0.attn_output', 'layer0.glu_product']) {
    if (exp.has(n)) rows.push(compare(n, cap.get(n)!, E(n), FWD));
  }
  const lastHidden = model.encoder.hiddenStates[cfg.num_hidden_layers - 1];
  rows.push(compare('last_hidden_state_padded', padRows(lastHidden, u, H), E('last_hidden_state_padded'), FWD));
  rows.push(compare('masked_logits_no_subset', full.logits, E('masked_logits_no_subset'), FWD));
  rows.push(lossRow('loss_no_subset', full.loss!, E('loss_no_subset')[0]));
  rows.push(compare('masked_positions', full.positions, E('masked_positions'), EXACT));
  const targets = Int32Array.from(full.positions, (p) => labels[p]);
  rows.push(compare('masked_targets', targets, E('masked_targets'), EXACT));

  // No labels: the head at every position, pad positions = head(zero vector).
  if (exp.has('full_logits_no_labels')) {
    const nl = model.forward(batch);
    const padded = padRows(nl.logits, u, V);
    const zero = model.predictLogits(new Float32Array(H), 1);
    const valid = new Uint8Array(B * S);
    for (const p of u.indices) valid[p] = 1;
    for (let p = 0; p < B * S; p++) if (!valid[p]) padded.set(zero.subarray(0, V), p * V);
    rows.push(compare('full_logits_no_labels', padded, E('full_logits_no_labels'), FWD));
  }

  // Training path: subset trick, loss, every gradient.
  model.zeroGrad();
  const out = model.forward({ ...batch, labels });
  rows.push(compare('masked_logits', out.logits, E('masked_logits'), FWD));
  rows.push(lossRow('loss', out.loss!, E('loss')[0]));
  model.backward();
  const G = model.grads!;
  for (const s of model.params.specs) rows.push(compare(`grad.${s.name}`, G.get(s.name), E(`grad.${s.name}`), GRAD));

  // Two DecoupledAdamW steps (the second from gradients at our step-1 parameters).
  const aw = inputs.adamw;
  if (aw && existsSync(join(dir, 'expected_adamw_step1.safetensors'))) {
    const opt = new DecoupledAdamW(model.params, { lr: aw.initial_lr, betas: aw.betas, eps: aw.eps,
      weight_decay: aw.weight_decay }, k);
    // Step 1 from the fixture's own gradients (the README's protocol: near |g| ~ eps the update is sensitive to
    // last-bit gradient differences, so step 1 isolates the optimizer); step 2 from our gradients at our params.
    for (const s of model.params.specs) G.get(s.name).set(E(`grad.${s.name}`));
    opt.step(G, aw.initial_lr * aw.schedule_factor_step1);
    const f1 = join(dir, 'expected_adamw_step1.safetensors');
    const e1 = readSafetensors(f1).tensors;
    for (const s of model.params.specs) {
      rows.push(compare(`adamw_step1.${s.name}`, model.params.get(s.name), need(e1, `param.${s.name}`, f1).data, { atol: 1e-6, rtol: 0 }));
    }
    model.zeroGrad();
    const o2 = model.forward({ ...batch, labels });
    const f2 = join(dir, 'expected_adamw_step2.safetensors');
    const e2 = readSafetensors(f2).tensors;
    rows.push(lossRow('loss_after_step1', o2.loss!, need(e2, 'loss_after_step1', f2).data[0]));
    model.backward();
    opt.step(model.grads!, aw.initial_lr * aw.schedule_factor_step2);
    for (const s of model.params.specs) {
      rows.push(compare(`adamw_step2.${s.name}`, model.params.get(s.name), need(e2, `param.${s.name}`, f2).data, { atol: 1e-5, rtol: 0 }));
    }
  }

  // Classification heads: 3 labels (cross-entropy) and 1 label (MSE).
  for (const nl of [3, 1]) {
    const hf = join(dir, `cls${nl}_heads.safetensors`), ef = join(dir, `expected_cls${nl}.safetensors`);
    if (!existsSync(hf) || !existsSync(ef)) continue;
    const cm = new MosaicBertForSequenceClassification({ ...cfg, num_labels: nl }, { kernels: opts.kernels, noInit: true });
    const sd = new Map([...weights].filter(([n]) => n.startsWith('bert.')));
    for (const [n, t] of readSafetensors(hf).tensors) sd.set(n, t);
    const r = cm.loadStateDict(sd, hf);
    if (r.missing.length) throw new Error(`${hf}: missing parameters ${r.missing.join(', ')}`);
    const ec = readSafetensors(ef).tensors;
    const yl = need(ec, 'labels', ef).data;
    cm.zeroGrad();
    const co = cm.forward({ ...batch, labels: nl > 1 ? Int32Array.from(yl) : Float32Array.from(yl) });
    rows.push(compare(`cls${nl}.pooled_output`, co.pooled, need(ec, 'pooled_output', ef).data, FWD));
    rows.push(compare(`cls${nl}.logits`, co.logits, need(ec, 'logits', ef).data, FWD));
    rows.push(lossRow(`cls${nl}.loss`, co.loss!, need(ec, 'loss', ef).data[0]));
    cm.backward();
    for (const s of cm.params.specs) rows.push(compare(`cls${nl}.grad.${s.name}`, cm.grads!.get(s.name), need(ec, `grad.${s.name}`, ef).data, GRAD));
  }
  return rows;
}

/** Formats rows as aligned text lines: name, max abs error, tolerance, OK/FAIL. */
export function formatCheckRows(rows: CheckRow[]): string {
  const w = Math.max(...rows.map((r) => r.name.length));
  return rows.map((r) => `${r.name.padEnd(w)}  ${r.maxAbsErr.toExponential(2).padStart(9)}  ${r.tol.padEnd(14)}  ${r.ok ? 'OK' : 'FAIL'}`).join('\n');
}
