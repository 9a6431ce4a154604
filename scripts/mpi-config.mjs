// Open MPI detection for binding.gyp and build-native.mjs: `enabled` prints 1 when mpicxx answers --showme and
// <include>/mpi.h exists (and MOSAICBERT_MPI is not 0), else 0; `cflags` / `libs` print mpicxx's compile / link
// flags (empty when disabled). The MPI addon (native/mpi/) is built only when enabled.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function showme(what) {
  const r = spawnSync('mpicxx', [`--showme:${what}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function mpiConfig() {
  if (process.env.MOSAICBERT_MPI === '0') return null;
  const compile = showme('compile'), link = showme('link');
  if (compile === null || link === null) return null;
  const incs = compile.split(/\s+/).filter((f) => f.startsWith('-I')).map((f) => f.slice(2));
  if (!incs.some((d) => existsSync(join(d, 'mpi.h')))) return null;
  // The C API only: the deprecated C++ bindings (-lmpi_cxx) are not needed. An rpath to the MPI library folder.
  const libs = link.split(/\s+/).filter((f) => f && f !== '-lmpi_cxx');
  for (const f of link.split(/\s+/)) if (f.startsWith('-L')) libs.push(`-Wl,-rpath,${f.slice(2)}`);
  return { cflags: compile.split(/\s+/).filter(Boolean), libs };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const c = mpiConfig();
  const kind = process.argv[2];
  if (kind === 'enabled') process.stdout.write(c ? '1\n' : '0\n');
  else if (kind === 'cflags') process.stdout.write((c?.cflags ?? []).join(' ') + '\n');
  else if (kind === 'libs') process.stdout.write((c?.libs ?? []).join(' ') + '\n');
  else { console.error('usage: mpi-config.mjs enabled|cflags|libs'); process.exit(2); }
}
