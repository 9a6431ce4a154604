/** `mosaicbert check-fixture <dir>`: per-tensor parity against a reference fixture folder. */
import type { Command } from 'commander';
import { checkFixture, formatCheckRows } from '../interop/check_fixture.js';
import { referenceKernels } from '../kernels/reference/index.js';

export function registerCheckFixture(program: Command): void {
  program
    .command('check-fixture')
    .description('Compare every tensor of a reference fixture folder (make_fixtures.py layout) with this engine; ' +
      'prints name, max abs error, tolerance, OK/FAIL per tensor and exits 1 on any FAIL')
    .argument('<dir>', 'fixture folder (config.json, inputs.json, model.safetensors, expected_*.safetensors)')
    .option('--kernels <impl>', "'native' (default) or 'reference' (float64 TypeScript oracle)", 'native')
    .action((dir: string, o: { kernels: string }) => {
      if (o.kernels !== 'native' && o.kernels !== 'reference') {
        throw new Error(`--kernels must be 'native' or 'reference', got '${o.kernels}'`);
      }
      const rows = checkFixture(dir, { kernels: o.kernels === 'reference' ? referenceKernels : undefined });
      console.log(formatCheckRows(rows));
      const failed = rows.filter((r) => !r.ok).length;
      console.log(`${rows.length - failed} OK, ${failed} FAIL`);
      if (failed) process.exitCode = 1;
    });
}
