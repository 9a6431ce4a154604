/** `mosaicbert/glue`: GLUE task readers, TSV/CSV/JSONL parsers, metrics, and the fine-tuning building blocks. */
export { GLUE_TASKS, GLUE_TASK_ORDER, glueTask, taskName, readTsv, parseTsv, readGlueSplit, loadGlueTask, findGlueTasks, taskFiles, type GlueExample, type GlueSplit, type GlueTaskSpec, type GlueTaskData, type TaskHyperparameters, type MetricName, type TsvTable, type ReadSplitOptions } from './tasks.js';
export { readLabelledFile, parseCsv, type LabelledFileOptions, type LabelledData, type TableFormat } from './generic.js';
export { accuracy, binaryF1, matthewsCorrcoef, pearson, spearman, averageRanks, computeMetrics, predictionsFromLogits, METRICS } from './metrics.js';
export { finetune, loadClassifier, findMnliCheckpoint, evaluate, encodeExamples, collate, GLUE_MAX_SEQ_LEN, type FinetuneOptions, type FinetuneResult, type FinetuneEvent, type EvalRecord, type CustomTaskOptions, type LoadClassifierOptions } from './finetune.js';
export { evaluateTask, type TaskEvalOptions, type TaskEvalResult } from './evaluate_task.js';
export { runGlue, formatGlueTable, taskRow, type GlueSuiteOptions, type GlueSuiteResult, type GlueTaskRow } from './suite.js';
