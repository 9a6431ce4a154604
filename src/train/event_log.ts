/**
 * A run's JSONL event log (`log.jsonl`): one JSON object per line, appended as events happen (llm.c / Composer
 * style: grep- and plot-friendly, and what `report` reads). Shared by pretraining and fine-tuning.
 */
import { appendFileSync } from 'node:fs';

export class EventLog {
  /** @param path the log file, or null to log nothing. */
  constructor(readonly path: string | null) {}

  /** Appends one event as a line. */
  write(e: object): void {
    if (this.path) appendFileSync(this.path, JSON.stringify(e) + '\n');
  }
}
