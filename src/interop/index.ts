/** `mosaicbert/interop`: Hugging Face folders, config.json writers, ONNX export, and the fixture parity harness. */
export { fromPretrained, loadPretrained, savePretrained, readPretrainedWeights, modelFromStateDict, WEIGHT_FILES, type PretrainedModel, type PretrainedInfo, type FromPretrainedOptions, type SavePretrainedOptions } from './pretrained.js';
export { hfConfigDict, hfBertConfigDict, hfBertConfigFields } from './hf_config.js';
export { normalizeStateDict } from '../model/state_dict.js';
export { checkFixture, formatCheckRows, type CheckRow } from './check_fixture.js';
