/**
 * JSON schemas of every request body, checked by fastify (ajv) before a handler runs, with type coercion off and
 * unknown fields rejected, so a wrong type or a misspelt field is a 422 naming the field. Shapes:
 * - `POST /embed` (TEI): `{inputs: string | string[], normalize?: boolean = true, truncate?: boolean = false,
 *   truncation_direction?: 'right', pooling?: 'mean' | 'cls'}`;
 * - `POST /predict` (TEI): `{inputs, raw_scores?: boolean = false, truncate?: boolean = false}` where `inputs` is a
 *   text, a `[text, text_pair]` pair, or a list of texts and pairs (TEI's reading: an array of exactly two strings
 *   is one pair);
 * - `POST /fill-mask` (Hugging Face Inference API): `{inputs: string | string[], parameters?: {top_k?: int}}`;
 * - `POST /v1/embeddings` (OpenAI): `{input: string | string[], model: string, encoding_format?: 'float' |
 *   'base64', dimensions?: int, user?: string}`.
 * Emptiness (no inputs, an empty string) and limits (count, length) are checked by the routes, which know the
 * server's limits and answer with TEI's `Empty` / `Validation` types.
 */

const textOrTexts = { type: ['string', 'array'], items: { type: 'string' } } as const;

/** `POST /embed` body. */
export const embedBody = {
  type: 'object',
  required: ['inputs'],
  additionalProperties: false,
  properties: {
    inputs: textOrTexts,
    normalize: { type: 'boolean' },
    truncate: { type: 'boolean' },
    truncation_direction: { type: 'string', enum: ['right', 'Right'] },
    pooling: { type: 'string', enum: ['mean', 'cls'] },
  },
} as const;

/** `POST /predict` body. */
export const predictBody = {
  type: 'object',
  required: ['inputs'],
  additionalProperties: false,
  properties: {
    inputs: {
      type: ['string', 'array'],
      items: { type: ['string', 'array'], items: { type: 'string' }, minItems: 2, maxItems: 2 },
    },
    raw_scores: { type: 'boolean' },
    truncate: { type: 'boolean' },
    truncation_direction: { type: 'string', enum: ['right', 'Right'] },
  },
} as const;

/** `POST /fill-mask` body. */
export const fillMaskBody = {
  type: 'object',
  required: ['inputs'],
  additionalProperties: false,
  properties: {
    inputs: textOrTexts,
    truncate: { type: 'boolean' },
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: { top_k: { type: 'integer', minimum: 1, maximum: 1000 } },
    },
  },
} as const;

/** `POST /v1/embeddings` body. */
export const openAiEmbeddingsBody = {
  type: 'object',
  required: ['input', 'model'],
  additionalProperties: false,
  properties: {
    input: textOrTexts,
    model: { type: 'string' },
    encoding_format: { type: 'string', enum: ['float', 'base64'] },
    dimensions: { type: 'integer', minimum: 1 },
    user: { type: 'string' },
  },
} as const;

/** Parsed bodies (what the schemas above admit). */
export interface EmbedRequest {
  inputs: string | string[];
  normalize?: boolean;
  truncate?: boolean;
  truncation_direction?: 'right' | 'Right';
  pooling?: 'mean' | 'cls';
}
export interface PredictRequest {
  inputs: string | Array<string | [string, string]>;
  raw_scores?: boolean;
  truncate?: boolean;
}
export interface FillMaskRequest {
  inputs: string | string[];
  truncate?: boolean;
  parameters?: { top_k?: number };
}
export interface OpenAiEmbeddingsRequest {
  input: string | string[];
  model: string;
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
}
