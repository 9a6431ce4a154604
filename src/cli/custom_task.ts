/** The flags that describe a custom (non-GLUE) labelled CSV/TSV/JSONL file: its columns and format. */
import type { Command } from 'commander';
import type { TableFormat } from '../glue/generic.js';

/** The parsed custom-file flags (commander's names). */
export interface CustomColumnOptions {
  textColumn: string; textPairColumn?: string; labelColumn: string; format?: string;
}

/** Adds `--text-column`, `--text-pair-column`, `--label-column` and `--format` to a command. */
export function addCustomColumnOptions(cmd: Command): Command {
  return cmd
    .option('--text-column <name>', 'custom task: text column', 'text')
    .option('--text-pair-column <name>', 'custom task: second text column')
    .option('--label-column <name>', 'custom task: label column', 'label')
    .option('--format <f>', 'custom task: csv | tsv | jsonl (default from the extension)');
}

/** Validates `--format`. @throws Error naming the flag and the accepted values. */
export function parseTableFormat(v: string | undefined): Exclude<TableFormat, 'auto'> | undefined {
  if (v !== undefined && v !== 'csv' && v !== 'tsv' && v !== 'jsonl') throw new Error(`--format: expected csv, tsv or jsonl, got '${v}'`);
  return v;
}
