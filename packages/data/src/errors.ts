/**
 * Bad-input reporting. Every problem with a sample names the list/annotation file and line that
 * declared it, so a user can find and fix the offending entry.
 */
import { UserError } from "@blvnet/core";

/** Where a sample was declared: a list or annotation file and its 1-based line. */
export interface SourceLine {
  file: string;
  line: number;
}

/** A sample that could not be used, and why. */
export interface BadSample extends SourceLine {
  /** Sample id when known (folder or video id). */
  id?: string;
  reason: string;
}

export function formatBadSample(b: BadSample): string {
  return `${b.file}:${b.line}: ${b.reason}`;
}

/** A data problem surfaced to the user (a one-line CLI error, exit 2). */
export class DataError extends UserError {
  constructor(readonly bad: BadSample) {
    super(formatBadSample(bad));
    this.name = "DataError";
  }
}

/** An error raised while loading one sample; the loader turns it into a BadSample. */
export class SampleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SampleError";
  }
}
