/**
 * `blvnet data ...`: prepare datasets in the official on-disk format.
 *   extract VIDEO_DIR OUT_DIR  videos -> JPEG frame folders + frames.txt (resumable)
 *   synth OUT_DIR              the synthetic temporal-order benchmark
 *   info DIR                   what a dataset folder holds, and its problems
 *   bench DIR                  loader throughput (clips/s) on a dataset
 */

import {
  checkSamples,
  createLoader,
  extractVideos,
  formatBadSample,
  type OpenOptions,
  openDataset,
  SYNTH_CLASSES,
  SYNTH_DEFAULT_LEVEL,
  SYNTH_LEVELS,
  synthesize,
} from "@blvnet/data";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { int } from "../flags/parsers.js";

function progressBar(unit: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format: `{bar} {percentage}% | {value}/{total} ${unit} | {eta_formatted} left`,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
}

interface OpenFlags {
  split: string;
  list?: string;
  frames?: string;
  videos?: string;
  template?: string;
}

function openFlags(cmd: Command): Command {
  return cmd
    .option("--split <name>", "train | val | test (or any <name>.txt list)", "train")
    .option("--list <file>", "an explicit list file (<folder> <num_frames> <label>)")
    .option("--frames <dir>", "for annotation datasets: frame folders made by `blvnet data extract`")
    .option("--videos <dir>", "for annotation datasets: where the video files are (default: DIR)")
    .option("--template <t>", "frame file name template, e.g. {:05d}.jpg or img_%05d.jpg (default: detected)");
}

function openOptions(f: OpenFlags): OpenOptions {
  return { split: f.split, list: f.list, frames: f.frames, videos: f.videos, template: f.template };
}

export function registerDataCommand(program: Command): void {
  const data = program.command("data").description("prepare and inspect datasets (frame extraction, synthetic benchmark)");

  data
    .command("extract")
    .description("extract every video under VIDEO_DIR to JPEG frame folders in OUT_DIR, plus OUT_DIR/frames.txt (resumable)")
    .argument("<video-dir>", "folder of videos (class subfolders become labels)")
    .argument("<out-dir>", "output folder")
    .option("--short-side <px>", "short side of the frames", int("--short-side", { min: 2 }), 256)
    .option("--jobs <n>", "videos converted at once (default: CPU cores)", int("--jobs"))
    .option("--quality <q>", "JPEG quality for ffmpeg -q:v, 2 (best) to 31", int("--quality", { min: 2 }), 2)
    .action(async (videoDir: string, outDir: string, o: { shortSide: number; jobs?: number; quality: number }) => {
      const bar = progressBar("videos");
      let started = false;
      const r = await extractVideos(videoDir, outDir, {
        shortSide: o.shortSide,
        jobs: o.jobs,
        quality: o.quality,
        onProgress: (done, total) => {
          if (!started) bar.start(total, 0);
          started = true;
          bar.update(done);
        },
      });
      bar.stop();
      console.log(`${r.extracted} extracted, ${r.skipped} already done, ${r.failed.length} failed of ${r.total} videos -> ${r.listFile}`);
      if (r.classes.length > 0) console.log(`${r.classes.length} classes from the subfolders (labels.txt)`);
      for (const f of r.failed) console.error(`failed: ${f.file}: ${f.reason}`);
      if (r.failed.length > 0) process.exitCode = 1;
    });

  data
    .command("synth")
    .description("generate the synthetic temporal-order benchmark (JPEG frame folders, train.txt/val.txt, labels.txt)")
    .argument("<out-dir>", "output folder")
    .option("--classes <list>", `comma-separated class names (default: all: ${SYNTH_CLASSES.join(",")})`)
    .option("--train <n>", "training clips per class", int("--train", { min: 0 }), 48)
    .option("--val <n>", "validation clips per class", int("--val", { min: 0 }), 12)
    .option("--frames <n>", "frames per clip", int("--frames"), 16)
    .option("--size <px>", "frame side", int("--size", { min: 8 }), 112)
    .option("--seed <k>", "random seed", int("--seed", { min: 0 }), 0)
    .option(
      "--level <n>",
      `difficulty: ${SYNTH_LEVELS.map((n, i) => `${i} ${n}`).join(", ")} (each adds to the one before; ${SYNTH_LEVELS.length - 1} = every nuisance, the original set)`,
      int("--level", { min: 0, max: SYNTH_LEVELS.length - 1 }),
      SYNTH_DEFAULT_LEVEL,
    )
    .option("--force", "replace an existing folder made with other settings")
    .action(
      async (
        outDir: string,
        o: { classes?: string; train: number; val: number; frames: number; size: number; seed: number; level: number; force?: boolean },
      ) => {
        const bar = progressBar("clips");
        let started = false;
        const r = await synthesize(outDir, {
          classes: o.classes
            ?.split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
          train: o.train,
          val: o.val,
          frames: o.frames,
          size: o.size,
          seed: o.seed,
          level: o.level,
          overwrite: o.force,
          onProgress: (done, total) => {
            if (!started) bar.start(total, 0);
            started = true;
            bar.update(done);
          },
        });
        bar.stop();
        console.log(
          r.reused
            ? `${r.dir} already holds this set (${r.clips} clips)`
            : `${r.clips} clips (${r.frames} frames) in ${r.seconds.toFixed(1)} s -> ${r.dir}`,
        );
      },
    );

  openFlags(
    data
      .command("info")
      .description("summarise a dataset folder: format, classes, samples and skipped entries")
      .argument("<dir>", "dataset folder or list file"),
  )
    .option("--show <n>", "problems to print", int("--show", { min: 0 }), 20)
    .option("--no-check", "skip the per-sample file check (missing folders, missing or empty frames, missing videos)")
    .action((dir: string, o: OpenFlags & { show: number; check: boolean }) => {
      const ds = openDataset(dir, openOptions(o));
      const kinds = { frames: ds.records.filter((r) => r.frames).length, videos: ds.records.filter((r) => r.video).length };
      // What a run would skip: bad list lines, then samples whose files are missing or empty.
      const problems = [...ds.problems, ...(o.check ? checkSamples(ds) : [])];
      const usable = ds.records.length + ds.problems.length - problems.length;
      console.log(
        `${ds.root} [${ds.format}] split ${ds.split}: ${usable} usable samples (${kinds.frames} frame folders, ${kinds.videos} videos listed)`,
      );
      console.log(
        `${ds.numClasses} classes${ds.classes.length ? `: ${ds.classes.slice(0, 10).join(", ")}${ds.classes.length > 10 ? ", ..." : ""}` : ""}`,
      );
      console.log(`frame template ${ds.template}; horizontal flip ${ds.flip ? "allowed" : "off (left/right matters)"}`);
      console.log(`${problems.length} entries skipped${o.check ? "" : " (list lines only: files not checked)"}`);
      for (const p of problems.slice(0, o.show)) console.log(`  ${formatBadSample(p)}`);
      if (problems.length > o.show) console.log(`  ... and ${problems.length - o.show} more (--show N)`);
    });

  openFlags(
    data
      .command("bench")
      .description("measure loader throughput (clips/s) over one or more epochs")
      .argument("<dir>", "dataset folder or list file"),
  )
    .option("--batch <n>", "videos per batch", int("--batch"), 8)
    .option("--num-frames <n>", "frames per clip", int("--num-frames"), 16)
    .option("--size <px>", "input size", int("--size"), 112)
    .option("--workers <n>", "samples decoding at once", int("--workers"))
    .option("--epochs <n>", "epochs to time", int("--epochs"), 1)
    .option("--test", "test-time sampling and centre crop instead of training augmentation")
    .action(
      async (
        dir: string,
        o: OpenFlags & { batch: number; numFrames: number; size: number; workers?: number; epochs: number; test?: boolean },
      ) => {
        const ds = openDataset(dir, openOptions(o));
        const loader = createLoader(ds, { batch: o.batch, frames: o.numFrames, size: o.size, workers: o.workers, train: !o.test });
        for (let e = 0; e < o.epochs; e++) {
          for await (const _ of loader.epoch(e)) {
            // the consumer does nothing: this measures the loader alone
          }
          const s = loader.stats;
          console.log(
            `epoch ${e}: ${s.clips} clips in ${s.seconds.toFixed(2)} s = ${s.clipsPerSecond.toFixed(1)} clips/s (${s.skipped} skipped)`,
          );
        }
      },
    );
}
