"""Loads a folder written by mosaicbert's savePretrained with the PyTorch reference and writes its outputs.

usage: ref_roundtrip.py REF_DIR MODEL_DIR INPUTS_JSON OUT_SAFETENSORS

REF_DIR holds mosaicbert_ref.py and st_io.py (../shared/reference/torch). The config is read with
MosaicBertConfig.from_json_file, the weights with st_io's reader and load_mosaic_state_dict (strict: every key
must match, the tied decoder is restored from the word embeddings). INPUTS_JSON: {input_ids, attention_mask,
token_type_ids, labels?, cls_labels?} as [B][S] lists. Writes, for an MLM folder, `full_logits` [B,S,V] (no labels,
head at every position), and with labels `masked_logits` [n,V], `loss`; for a classification folder `logits`
[B,num_labels], `pooled_output`. Every dropout is off (eval mode).
"""
import json
import sys

ref_dir, model_dir, inputs_path, out_path = sys.argv[1:5]
sys.path.insert(0, ref_dir)

import torch  # noqa: E402
from mosaicbert_ref import (MosaicBertConfig, MosaicBertForMaskedLM,  # noqa: E402
                            MosaicBertForSequenceClassification, load_mosaic_state_dict)
from st_io import load_safetensors, save_safetensors  # noqa: E402

cfg = MosaicBertConfig.from_json_file(f'{model_dir}/config.json')
with open(f'{model_dir}/config.json') as f:
    arch = json.load(f)['architectures'][0]
sd, meta = load_safetensors(f'{model_dir}/model.safetensors')
assert meta.get('format') == 'pt', meta
with open(inputs_path) as f:
    inp = json.load(f)
ids = torch.tensor(inp['input_ids'], dtype=torch.long)
mask = torch.tensor(inp['attention_mask'], dtype=torch.long)
tt = torch.tensor(inp['token_type_ids'], dtype=torch.long)
out = {}
with torch.no_grad():
    if arch == 'BertForMaskedLM':
        model = MosaicBertForMaskedLM(cfg, init=False)
        load_mosaic_state_dict(model, sd, strict=True)
        model.eval()
        out['full_logits'] = model(ids, mask, tt).logits
        if 'labels' in inp:
            r = model(ids, mask, tt, labels=torch.tensor(inp['labels'], dtype=torch.long))
            out['masked_logits'] = r.logits
            out['loss'] = r.loss.reshape(1)
    else:
        model = MosaicBertForSequenceClassification(cfg, init=False)
        load_mosaic_state_dict(model, sd, strict=True)
        model.eval()
        r = model(ids, mask, tt)
        out['logits'] = r.logits
        out['pooled_output'] = r.pooled_output
save_safetensors(out_path, {k: v.float().contiguous() for k, v in out.items()})
print('ok', arch, {k: list(v.shape) for k, v in out.items()})
