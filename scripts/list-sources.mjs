// Lists the C++ sources under native/ for binding.gyp, so adding a kernel file needs no edit of binding.gyp.
// `avx2`: files named *_avx2.cc (compiled with -mavx2 -mfma into a static library);
// `portable`: every other .cc file (the addon itself, compiled for the baseline x86-64 / any CPU).
// native/mpi/ is not listed: it is the separate Open MPI addon, built only when Open MPI is present (binding.gyp).
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const kind = process.argv[2];
if (kind !== 'avx2' && kind !== 'portable') {
  console.error('usage: list-sources.mjs avx2|portable');
  process.exit(2);
}
const out = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (relative(root, p) !== join('native', 'mpi')) walk(p); }
    else if (e.name.endsWith('.cc') && e.name.endsWith('_avx2.cc') === (kind === 'avx2')) out.push(relative(root, p));
  }
})(join(root, 'native'));
process.stdout.write(out.join(' ') + '\n');
