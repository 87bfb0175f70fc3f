import type { SourceLine } from "./errors.js";

/** One video of a dataset: either a folder of extracted frames or a video file to decode. */
export interface VideoRecord {
  /** Folder (as written in the list) or video id. */
  id: string;
  /** Class index; -1 when unlabeled (test lists). */
  label: number;
  /** The list/annotation line that declared it. */
  where: SourceLine;
  /** Extracted frames: `dir/<template(start + i)>` for i in [0, count). */
  frames?: { dir: string; start: number; count: number };
  /** A video file, decoded through ffmpeg. */
  video?: string;
}
