/**
 * Parquet corpora (e.g. Hugging Face dataset exports) through hyparquet, one row group at a time (bounded memory:
 * one row group's text column). Codecs: snappy (built in) plus gzip, brotli, zstd, lz4 via hyparquet-compressors.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { CorpusDocument } from './document.js';

/**
 * Documents of a Parquet file: the string column `text_field` of each row, in row order. Null values are skipped.
 * @throws Error naming the file when the column is missing, or naming the row when a value is not a string.
 */
export async function* readParquet(path: string, text_field = 'text'): AsyncGenerator<CorpusDocument> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const top = metadata.schema.slice(1).map((s) => s.name);
  if (!top.includes(text_field)) {
    throw new Error(`${path}: no column "${text_field}" (columns: ${top.join(', ')})`);
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, columns: [text_field], rowStart, rowEnd, compressors });
    for (let i = 0; i < rows.length; i++) {
      const value = rows[i][text_field];
      if (value === null || value === undefined) continue;
      if (typeof value !== 'string') {
        throw new Error(`${path} row ${rowStart + i}: column "${text_field}" is ${typeof value}, not a string`);
      }
      yield { text: value, where: `${path} row ${rowStart + i}` };
    }
    rowStart = rowEnd;
  }
}
