"""Golden fixture for classic BERT (HF `model_type: bert`), computed with the
HF-BERT-style reference ../shared/reference/torch/hf_bert_ref.py.

Usage (from the repository root):
  /usr/bin/python3 test/fixtures-bert/make_bert_fixture.py --out test/fixtures-bert/bert-tiny

Writes config.json, model.safetensors (MLM weights, HF key names, tied decoder
keys omitted), pytorch_model.bin (torch.save of the full state_dict, tied keys
sharing storage), inputs.json, expected_mlm.safetensors, cls3_heads /
expected_cls3 (3 labels, CE) and cls1_heads / expected_cls1 (1 label, MSE).
fp32, CPU, all dropout 0. Batches come from make_fixtures.make_batch
(right padding, [CLS] ... [SEP], 80/10/10 masking).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get('MB_TORCH_REF', os.path.join(HERE, '..', '..', '..', 'shared', 'reference', 'torch'))
sys.path.insert(0, os.path.abspath(REF))

import hf_bert_ref as hf  # noqa: E402
from make_fixtures import grads_of, make_batch, randomize_, write  # noqa: E402

SHAPE = dict(vocab_size=122, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=64, max_position_embeddings=40, type_vocab_size=2,
             layer_norm_eps=1e-12, pad_token_id=0, hidden_dropout_prob=0.0,
             attention_probs_dropout_prob=0.0)
BATCH, SEQLEN, SEED = 4, 24, 3
TIED = ('cls.predictions.decoder.weight', 'cls.predictions.decoder.bias')


def hf_config_dict(cfg: hf.HFBertConfig, arch: str, num_labels: int | None = None):
    d = dict(architectures=[arch], model_type='bert', position_embedding_type='absolute',
             hidden_act='gelu', initializer_range=cfg.initializer_range, classifier_dropout=None,
             **SHAPE)
    if num_labels is not None:
        d['num_labels'] = num_labels
        d['id2label'] = {str(i): f'LABEL_{i}' for i in range(num_labels)}
        d['label2id'] = {f'LABEL_{i}': i for i in range(num_labels)}
    return d


def build(out: str, seed: int):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = hf.HFBertConfig(**SHAPE)
    model = hf.HFBertForMaskedLM(cfg)
    randomize_(model, gen)
    model.eval()
    ids, att, tt, labels, lengths = make_batch(gen, BATCH, SEQLEN, cfg.vocab_size, True)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(hf_config_dict(cfg, 'BertForMaskedLM'), f, indent=2)
    torch.save(model.state_dict(), os.path.join(out, 'pytorch_model.bin'))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    write(os.path.join(out, 'model.safetensors'),
          {k: v for k, v in sd.items() if k not in TIED}, {'format': 'pt'})

    # MLM: logits at every position, loss over labels != -100, grads of that loss.
    model.zero_grad(set_to_none=True)
    seq, _ = model.bert(ids, att, tt)
    loss, logits = model(ids, att, tt, labels=labels)
    loss.backward()
    exp = {'logits': logits.detach(), 'loss': loss.detach().reshape(()),
           'last_hidden_state': seq.detach(),
           'valid_mask': att.to(torch.int32)}
    exp.update(grads_of(model))
    write(os.path.join(out, 'expected_mlm.safetensors'), exp)

    cls_labels = {}
    for nl in (3, 1):
        ccfg = hf.HFBertConfig(**dict(SHAPE, num_labels=nl))
        cm = hf.HFBertForSequenceClassification(ccfg)
        randomize_(cm, gen)
        heads = {k: v.clone() for k, v in cm.state_dict().items()
                 if not k.startswith('bert.') or k.startswith('bert.pooler.')}
        enc = {k: v for k, v in sd.items() if k.startswith('bert.')}
        missing, unexpected = cm.load_state_dict({**enc, **heads}, strict=False)
        assert not missing and not unexpected, (missing, unexpected)
        cm.eval()
        if nl > 1:
            y = torch.randint(0, nl, (BATCH,), generator=gen)
            cls_labels['cls3_labels'] = y.tolist()
        else:
            y = torch.randint(0, 41, (BATCH,), generator=gen).float() / 8.0
            cls_labels['cls1_labels'] = y.tolist()
        _, pooled = cm.bert(ids, att, tt)
        closs, clogits = cm(ids, att, tt, labels=y)
        closs.backward()
        write(os.path.join(out, f'cls{nl}_heads.safetensors'), heads)
        ce = {'labels': y.to(torch.int32) if nl > 1 else y, 'pooled_output': pooled.detach(),
              'logits': clogits.detach(), 'loss': closs.detach().reshape(())}
        ce.update(grads_of(cm))
        write(os.path.join(out, f'expected_cls{nl}.safetensors'), ce)

    inputs = {'batch_size': BATCH, 'seq_len': SEQLEN, 'lengths': lengths.tolist(),
              'input_ids': ids.tolist(), 'attention_mask': att.tolist(),
              'token_type_ids': tt.tolist(), 'labels': labels.tolist(), **cls_labels,
              'seed': seed, 'torch': torch.__version__}
    with open(os.path.join(out, 'inputs.json'), 'w') as f:
        json.dump(inputs, f)
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(f"""# Classic-BERT golden fixture `bert-tiny` (seed {seed})

Generated by `test/fixtures-bert/make_bert_fixture.py` with torch {torch.__version__}
(CPU, fp32, dropout 0) from `hf_bert_ref.py` (HF BertForMaskedLM /
BertForSequenceClassification clean-room, HF key names).
Shape: {json.dumps(SHAPE)}; batch {BATCH} x {SEQLEN}, lengths {lengths.tolist()} (right padding).

- `model.safetensors`: MLM weights without the tied `cls.predictions.decoder.{{weight,bias}}`;
  `pytorch_model.bin`: full state_dict (tied keys share storage).
- `expected_mlm.safetensors`: `logits` [B,S,V] (every position; pad rows are HF's
  computation on padding, compare valid rows only), `loss` (mean CE over labels != -100),
  `last_hidden_state` [B,S,H], `valid_mask`, `grad.<param>` (tied matrix once, as
  `grad.bert.embeddings.word_embeddings.weight`; decoder bias as `grad.cls.predictions.bias`).
- `cls3_heads` / `cls1_heads`: pooler + classifier for 3 labels (CE) / 1 label (MSE);
  `expected_cls3` / `expected_cls1`: labels, pooled_output, logits, loss, grads.

Tolerances: forward 1e-4 abs, loss 1e-5 rel, grads 1e-4 abs + 1e-3 rel.
""")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    assert total < 2 * 1024 * 1024, total
    return loss.item(), total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(HERE, 'bert-tiny'))
    ap.add_argument('--seed', type=int, default=SEED)
    a = ap.parse_args()
    torch.set_num_threads(1)
    loss, total = build(a.out, a.seed)
    print(f'{a.out}: loss {loss:.6f}, {total} bytes')


if __name__ == '__main__':
    main()
