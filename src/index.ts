/**
 * mosaicbert: MosaicBERT and classic BERT encoders on native CPU kernels. The public API: models and configs,
 * `fromPretrained` / `savePretrained`, `pipeline`, the tokenizer, the trainer, its training step, optimizer and
 * schedule, fine-tuning, and the kernels. Lower-level pieces are subpath exports: `mosaicbert/io` (safetensors,
 * PyTorch checkpoints, zip, the safe unpickler), `mosaicbert/data` (corpus readers, `prepare`, token shards, the
 * loader and MLM masking), `mosaicbert/glue` (task readers, TSV/CSV parsers, metrics), `mosaicbert/interop`
 * (config.json writers, fixture parity).
 */
// Kernels
export type { Kernels } from './kernels/types.js';
export { nativeKernels, getNumThreads, setNumThreads, getKernelPath, setKernelPath } from './kernels/native.js';
export { referenceKernels } from './kernels/reference/index.js';
// Configs and architectures
export { type MosaicBertConfig, type EncoderConfig, MOSAIC_BERT_BASE, configFromDict, readConfig, readConfigFile, padVocabSize, headDim } from './model/config.js';
export { type BertConfig, BERT_BASE_UNCASED, bertConfigFromDict, readBertConfig } from './model/bert_config.js';
export { MOSAICBERT, CLASSIC_BERT, BERT_DECODER_BIAS_KEY, type Architecture, type ModelType } from './model/architecture.js';
// Models and layers
export { EncoderModel, type ModelOptions, type ForwardOptions } from './model/base.js';
export { MaskedLMModel, MosaicBertForMaskedLM, BertForMaskedLM, maskedTargets, IGNORE_INDEX, type MaskedLMBatch, type MaskedLMOutput, type MaskedLMForwardOptions } from './model/mlm.js';
export { SequenceClassificationModel, MosaicBertForSequenceClassification, BertForSequenceClassification, type ClassificationBatch, type ClassificationOutput } from './model/classification.js';
export { Encoder, type EncoderForwardOptions, type EncoderLayer } from './model/encoder.js';
export { Linear, type LinearForwardBackend } from './model/layers/linear.js';
// Inference backends of Linear (prepared weights: pre-packed dense, CSR, 1x4 block-sparse, INT8)
export { DensePackedLinear, SparseLinear, Int8Linear, packDense, toBsr4, toCsr, quantizeInt8, fromInt8, chooseBackend, SPARSE_CROSSOVER } from './kernels/linear_backends.js';
export { sparsity, blockSparsity4, toCsrArrays, toBsr4Arrays } from './kernels/sparse_formats.js';
export { quantizeRowsInt8, type Int8Weights } from './kernels/quantize.js';
export { unpadBatch, padRows, type PaddedBatch, type UnpaddedBatch } from './model/batch.js';
export { ParamStore, paramShapes, type ParamSpec, type HeadKind } from './model/params.js';
export { loadStateDict, stateDict, type LoadReport } from './model/state_dict.js';
export { alibiSlopes } from './model/alibi.js';
// Hugging Face folders and weights
export { fromPretrained, loadPretrained, savePretrained, modelFromStateDict, WEIGHT_FILES, type PretrainedModel, type AnyPretrainedModel, type ClassicBertModel, type PretrainedInfo, type FromPretrainedOptions, type SavePretrainedOptions } from './interop/pretrained.js';
export { readSafetensors, writeSafetensors, type Tensor } from './io/safetensors.js';
// Pipelines and tokenizer
export { pipeline, PipelineInputError, createFillMaskPipeline, createFeatureExtractionPipeline, createTextClassificationPipeline, type PipelineTask, type PipelineOptions, type FillMaskOutput, type FillMaskPipelineFn, type PipelineTensor, type FeatureExtractionOptions, type FeatureExtractionPipelineFn, type ClassificationResult, type ClassificationInput, type TextClassificationOptions, type TextClassificationPipelineFn } from './pipelines/index.js';
export { fillMaskPipeline, type FillMaskPipeline, type FillMaskResult, type FillMaskOptions } from './pipelines/fill_mask.js';
export { BertTokenizer, type BertEncoding, type BertEncodeOptions, type BertTokenizerOptions } from './tokenizer/index.js';
// Training
export { Trainer, type TrainerOptions, type TrainEvent, type EvalResult, type FitResult } from './train/trainer.js';
export { TrainingStep, TrainingDivergedError, type TrainableModel, type LabelledBatch, type TrainingStepOptions, type StepResult } from './train/step.js';
export { DecoupledAdamW, type DecoupledAdamWOptions } from './train/decoupled_adamw.js';
export { linearDecayWithWarmup } from './train/schedule.js';
export { loadConfig, resolveConfig, PRESETS, type TrainConfig, type LoadedConfig, type ConfigSources } from './train/config.js';
export { parseTime, toBatches, type Time, type TimeUnit } from './train/time.js';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, pruneCheckpoints, type TrainerState } from './train/checkpoint.js';
export { findData, ensurePrepared, type DataSelection, type PreparedData } from './train/data.js';
export { trainingFlops, unigramEntropy } from './train/metrics.js';
export { evaluateMlm, type MlmEvalOptions, type MlmEvalResult, type MlmEvalProgress } from './train/evaluate_mlm.js';
export { writeReport, readRunLog, renderReport } from './report/html.js';
// Fine-tuning and GLUE
export { finetune, loadClassifier, evaluate as evaluateClassifier, GLUE_MAX_SEQ_LEN, type FinetuneOptions, type FinetuneResult, type FinetuneEvent, type EvalRecord, type CustomTaskOptions, type LoadClassifierOptions } from './glue/finetune.js';
export { evaluateTask, type TaskEvalOptions, type TaskEvalResult } from './glue/evaluate_task.js';
export { runGlue, formatGlueTable, type GlueSuiteOptions, type GlueSuiteResult, type GlueTaskRow } from './glue/suite.js';
export { GLUE_TASKS, GLUE_TASK_ORDER, glueTask, type GlueTaskSpec, type TaskHyperparameters, type MetricName } from './glue/tasks.js';
// Pruning (oBERT, GMP): docs/pruning.md
export { oneShotPrune, pruningJson, defaultPruneParams, type OneShotOptions, type OneShotResult } from './pruning/one_shot.js';
export { pruneStep, type PruneStepOptions, type PruneReport, type PruneProgress, type LayerReport } from './pruning/prune_step.js';
export { loadRecipe, parseRecipe, RecipeError, type Recipe, type PruningModifier } from './pruning/recipe.js';
export { sparsityAt, pruningSteps, scheduleTable, type GradualSchedule } from './pruning/schedule.js';
export { selectTargets, DEFAULT_PRUNE_PARAMS_MOSAICBERT, DEFAULT_PRUNE_PARAMS_BERT } from './pruning/targets.js';
export { pruningKernels, referencePruningKernels, type PruningKernels } from './pruning/kernels.js';
export { fisherInverseBytes, planFisherGroups } from './pruning/memory.js';
