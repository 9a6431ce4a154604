/**
 * Locates the bert-base-uncased vocab.txt shipped in this package (`assets/bert-base-uncased/vocab.txt`), so the
 * tokenizer works with no network and no `../shared`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RELATIVE = join('assets', 'bert-base-uncased', 'vocab.txt');

/**
 * Absolute path of the packaged bert-base-uncased vocab.txt (30,522 lines, md5 64800d5d8528ce344256daf115d4965e).
 * Walks up from this module (src/tokenizer in the sources, dist/src/tokenizer once compiled) to the package root.
 * @throws Error when the asset is missing (a broken install).
 */
export function bertBaseUncasedVocabPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, RELATIVE);
    if (existsSync(cand)) return cand;
    dir = dirname(dir);
  }
  throw new Error(`bert-base-uncased vocab not found: expected ${RELATIVE} at the package root`);
}
