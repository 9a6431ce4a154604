/** `mosaicbert report <run>`: a self-contained HTML page (inline SVG curves, no JavaScript) of a run's log. */
import type { Command } from 'commander';
import { readRunLog, writeReport, writeReportSvgs } from '../report/html.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('Write <run>/report.html: loss, eval loss/accuracy, lr, throughput and MFU curves from log.jsonl')
    .argument('<run>', 'run folder (with log.jsonl) or a log.jsonl file')
    .option('-o, --out <file>', 'output HTML file (default <run>/report.html)')
    .option('--svg <dir>', 'also write each chart as a standalone SVG file into <dir> (e.g. for a README)')
    .action((run: string, o: { out?: string; svg?: string }) => {
      for (const w of readRunLog(run).skipped) console.error(`warning: ${w}`);
      console.log(writeReport(run, o.out));
      if (o.svg) for (const p of writeReportSvgs(run, o.svg)) console.log(p);
    });
}
