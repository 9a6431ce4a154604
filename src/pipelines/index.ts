/**
 * `pipeline(task, model, options)`: transformers.js's entry point for MosaicBERT. `model` is a Hugging Face folder
 * (config.json + model.safetensors / pytorch_model.bin, optional vocab.txt) or an already-built model.
 *
 *   const unmasker = await pipeline('fill-mask', 'runs/x/model');
 *   await unmasker('The capital of France is [MASK].', { top_k: 5 });
 *   const extractor = await pipeline('feature-extraction', dir);
 *   await extractor(['a', 'b c'], { pooling: 'mean', normalize: true });   // {data, dims: [2, H]}
 *   const classifier = await pipeline('text-classification', dir);
 *   await classifier({ text: 'a', text_pair: 'b' });                       // [{label, score}]
 */
import type { PretrainedModel } from '../interop/pretrained.js';
import type { MaskedLMModel } from '../model/mlm.js';
import type { SequenceClassificationModel } from '../model/classification.js';
import type { PipelineOptions } from './common.js';
import { createFillMaskPipeline, type FillMaskPipelineFn } from './fill_mask.js';
import { createFeatureExtractionPipeline, type FeatureExtractionPipelineFn } from './feature_extraction.js';
import { createTextClassificationPipeline, type TextClassificationPipelineFn } from './text_classification.js';

/** Task names accepted by {@link pipeline} ('embeddings' and 'sentiment-analysis' are aliases, as in HF). */
export type PipelineTask = 'fill-mask' | 'feature-extraction' | 'embeddings' | 'text-classification' | 'sentiment-analysis';

/** Builds a pipeline; see each task's module for its call options and output shapes. */
export function pipeline(task: 'fill-mask', model: string | MaskedLMModel, options?: PipelineOptions): Promise<FillMaskPipelineFn>;
export function pipeline(task: 'feature-extraction' | 'embeddings', model: string | PretrainedModel, options?: PipelineOptions): Promise<FeatureExtractionPipelineFn>;
export function pipeline(task: 'text-classification' | 'sentiment-analysis', model: string | SequenceClassificationModel, options?: PipelineOptions): Promise<TextClassificationPipelineFn>;
export function pipeline(task: PipelineTask, model: string | PretrainedModel, options?: PipelineOptions):
  Promise<FillMaskPipelineFn | FeatureExtractionPipelineFn | TextClassificationPipelineFn>;
export async function pipeline(task: PipelineTask, model: string | PretrainedModel, options: PipelineOptions = {}):
  Promise<FillMaskPipelineFn | FeatureExtractionPipelineFn | TextClassificationPipelineFn> {
  switch (task) {
    case 'fill-mask': return createFillMaskPipeline(model as string | MaskedLMModel, options);
    case 'feature-extraction': case 'embeddings': return createFeatureExtractionPipeline(model, options);
    case 'text-classification': case 'sentiment-analysis':
      return createTextClassificationPipeline(model as string | SequenceClassificationModel, options);
    default: throw new Error(`pipeline: unknown task '${task as string}' (fill-mask, feature-extraction, text-classification)`);
  }
}

export { PipelineInputError, type PipelineOptions } from './common.js';
export * from './fill_mask.js';
export * from './feature_extraction.js';
export * from './text_classification.js';
