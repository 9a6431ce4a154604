/** Classic BERT (HF `model_type: bert`, bert-base-uncased style) on the MosaicBERT kernels. */
export { type BertConfig, BERT_BASE_UNCASED, bertConfigFromDict, readBertConfig, hfBertConfigDict } from './config.js';
export { bertParamShapes, bertParamSpecs, bertParamStore, fusedQkv, BERT_DECODER_BIAS_KEY, BERT_DECODER_BIAS_ALIAS } from './params.js';
export { BertEncoder } from './encoder.js';
export { BertBase, normalizeBertStateDict } from './base.js';
export { BertForMaskedLM, type BertMaskedLMForwardOptions } from './mlm.js';
export { BertForSequenceClassification } from './classification.js';
