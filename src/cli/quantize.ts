/** `mosaicbert quantize --model DIR --out DIR`: an INT8 copy of a model folder (see interop/quantized.ts). */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromPretrained, savePretrained } from '../interop/pretrained.js';

export function registerQuantize(program: Command): void {
  program.command('quantize')
    .description('store the encoder projections as INT8 per output channel (dynamic per-token activations at run time); loads with fromPretrained / --model')
    .requiredOption('--model <dir>', 'model folder (config.json + weights)')
    .requiredOption('--out <dir>', 'output folder')
    .action((o: { model: string; out: string }) => {
      const m = fromPretrained(o.model, { warn: (w) => console.error(`warning: ${w}`) });
      const tokenizerDir = existsSync(join(o.model, 'vocab.txt')) ? o.model : undefined;
      const files = savePretrained(m, o.out, { dtype: 'q8', tokenizerDir });
      const size = (d: string) => statSync(join(d, 'model.safetensors')).size;
      const before = existsSync(join(o.model, 'model.safetensors')) ? size(o.model) : NaN;
      console.log(`${m.encoder.linears().length} projections quantized to int8; model.safetensors ` +
        `${(size(o.out) / 2 ** 20).toFixed(1)} MiB${Number.isFinite(before) ? ` (fp32: ${(before / 2 ** 20).toFixed(1)} MiB)` : ''}`);
      for (const f of files) console.log(f);
    });
}
