/**
 * The generated profile tables of results/: FLOPs/params/memory of every bLVNet-TAM configuration
 * and baseline (next to the official counts where they exist), and training memory vs frames for
 * bLVNet-TAM, TSN and TSM. Everything is computed here from the model definitions; nothing is typed.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { type ModelProfile, UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import cliProgress from "cli-progress";
import { configName, parseConfigName } from "./configs.js";
import { type Rows, renderRows } from "./format.js";
import { type ReferenceCount, readCounts } from "./reference.js";
import { profileTarget } from "./target.js";

const MiB = 2 ** 20;
const r = (v: number, d: number) => Number(v.toFixed(d));

/** The configurations of the FLOPs table: the paper's grid of bLVNet(-TAM) and the baselines. */
export function flopsTableConfigs(): string[] {
  const out: string[] = [];
  for (const model of ["blvnet-tam", "blvnet"])
    for (const depth of [50, 101]) for (const pairs of [4, 8, 16, 24, 32]) out.push(configName(model, depth, 2 * pairs));
  for (const model of ["tsn", "tsm"])
    for (const depth of [50, 101]) for (const frames of [8, 16, 32]) out.push(configName(model, depth, frames));
  for (const model of ["r3d", "mc3", "r2plus1d"]) for (const frames of [16, 32]) out.push(configName(model, 18, frames));
  return out;
}

export const MEMORY_FRAMES = [8, 16, 24, 32, 48, 64];
export const MEMORY_MODELS = ["blvnet-tam", "tsn", "tsm"];

function profileConfig(config: string): ModelProfile {
  const t = parseConfigName(config);
  if (!t) throw new Error(`not a configuration name: ${config}`);
  return profileTarget(t, 1);
}

interface GeneratedTable {
  name: string;
  title: string;
  note: string;
  csv: Rows;
  /** Markdown sections: a heading (may be empty) and its rows. */
  md: { heading: string; rows: Rows }[];
}

export function flopsTable(refs: ReferenceCount[]): GeneratedTable {
  const csv: Rows = [];
  const md: Rows = [];
  for (const config of flopsTableConfigs()) {
    const p = profileConfig(config);
    const ref = refs.find((x) => x.config === config);
    const frames = parseConfigName(config)!.options.frames as number;
    const size = p.inputShape[p.inputShape.length - 1];
    csv.push({
      config,
      model_id: p.modelId,
      frames,
      size,
      params: p.params,
      macs: p.macs,
      other_flops: p.otherFlops,
      total_flops: p.totalFlops,
      saved_activation_bytes: p.savedActivationBytes,
      inference_peak_bytes: p.inferencePeakBytes,
      official_params: ref ? Math.round(ref.params) : "",
      official_macs: ref ? Math.round(ref.macs) : "",
      official_other_flops: ref ? Math.round(ref.otherFlops) : "",
      official_saved_activation_bytes: ref ? Math.round(ref.savedActivationBytes) : "",
    });
    md.push({
      config,
      frames,
      size,
      "params (M)": r(p.params / 1e6, 3),
      GMACs: r(p.macs / 1e9, 2),
      "GFLOPs (2 MAC + other)": r(p.totalFlops / 1e9, 2),
      "train saved (MiB)": r(p.savedActivationBytes / MiB, 1),
      "infer peak (MiB)": r(p.inferencePeakBytes / MiB, 1),
      "official params (M)": ref ? r(ref.params / 1e6, 3) : "",
      "official GMACs": ref ? r(ref.macs / 1e9, 2) : "",
      "official GFLOPs": ref ? r((2 * ref.macs + ref.otherFlops) / 1e9, 2) : "",
      "official saved (MiB)": ref ? r(ref.savedActivationBytes / MiB, 1) : "",
    });
  }
  return {
    name: "profile-flops",
    title: "Parameters, FLOPs and activation memory per clip (analytic)",
    note: [
      "1 clip; 2D models at 224x224 with 174 classes (Something-Something v1), 3D models at 112x112 with 400 classes; bLVNet fKx2 = 2K input frames.",
      'MACs = multiply-accumulates (the papers\' "FLOPs"); GFLOPs = 2 x MACs + BN/ReLU/add/pool/reduce FLOPs.',
      "Train saved = distinct bytes PyTorch autograd keeps for backward (fp32, parameters excluded); infer peak = live activations of an eval forward freeing each tensor after its last use.",
      "Official = forward hooks and saved-tensor hooks on the official PyTorch code (results/reference/counts.csv).",
    ].join("\n"),
    csv,
    md: [{ heading: "", rows: md }],
  };
}

export function memoryVsFramesTable(): GeneratedTable {
  const csv: Rows = [];
  const md: GeneratedTable["md"] = [];
  const label: Record<string, string> = { "blvnet-tam": "bLVNet-TAM", tsn: "TSN", tsm: "TSM" };
  for (const depth of [50, 101]) {
    const rows: Rows = [];
    for (const frames of MEMORY_FRAMES) {
      const saved: Record<string, number> = {};
      const macs: Record<string, number> = {};
      for (const model of MEMORY_MODELS) {
        const config = configName(model, depth, frames);
        const p = profileConfig(config);
        saved[model] = p.savedActivationBytes;
        macs[model] = p.macs;
        csv.push({
          config,
          model,
          depth,
          frames,
          macs: p.macs,
          saved_activation_bytes: p.savedActivationBytes,
          inference_peak_bytes: p.inferencePeakBytes,
        });
      }
      rows.push({
        frames,
        ...Object.fromEntries(MEMORY_MODELS.map((m) => [`${label[m]} saved (MiB)`, r(saved[m] / MiB, 1)])),
        "TSN / bLVNet-TAM": r(saved.tsn / saved["blvnet-tam"], 2),
        "TSM / bLVNet-TAM": r(saved.tsm / saved["blvnet-tam"], 2),
        ...Object.fromEntries(MEMORY_MODELS.map((m) => [`${label[m]} GMACs`, r(macs[m] / 1e9, 1)])),
      });
    }
    md.push({ heading: `ResNet-${depth} backbones`, rows });
  }
  return {
    name: "memory-vs-frames",
    title: "Training memory (saved activations per clip) vs input frames: bLVNet-TAM vs TSN vs TSM",
    note: "Analytic bytes autograd keeps for one training step (fp32, 1 clip, 224x224, parameters excluded); multiply by the batch for a step. bLVNet-TAM with F frames = f(F/2)x2 (F/2 frame pairs); TSN and TSM (shift 1/8, residual) use F frames.",
    csv,
    md,
  };
}

export const MEASURE_FRAMES = [8, 16];

export interface MeasureSettings {
  /** Input size of the measured runs (small: tfjs on a CPU trains slowly). */
  size: number;
  /** tfjs backend (global --backend), undefined = best available. */
  backend?: string;
}

/**
 * Measured tfjs memory beside the analytic figures for bLVNet-TAM / TSN / TSM (R50) at 8 and 16
 * frames, at a reduced input size. Each configuration runs in a fresh CLI process
 * (`blvnet profile <config> --measure --format json`) so that its peak RSS is its own.
 */
export function measuredMemoryTable(m: MeasureSettings): GeneratedTable {
  const cli = process.argv[1];
  if (!cli) throw new UserError("--measure needs to run the CLI again and cannot find its entry script");
  const configs = MEASURE_FRAMES.flatMap((f) => MEMORY_MODELS.map((model) => configName(model, 50, f)));
  const bar = new cliProgress.SingleBar(
    { format: "measuring {bar} {value}/{total} | {config}", noTTYOutput: true, notTTYSchedule: 10_000, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  bar.start(configs.length, 0, { config: "" });
  const csv: Rows = [];
  const md: Rows = [];
  for (const config of configs) {
    bar.update({ config });
    const args = [
      ...process.execArgv,
      cli,
      ...(m.backend ? ["--backend", m.backend] : []),
      "profile",
      config,
      "--size",
      String(m.size),
      "--measure",
      "--format",
      "json",
    ];
    const out = JSON.parse(
      execFileSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 }),
    );
    const frames = parseConfigName(config)!.options.frames as number;
    csv.push({
      config,
      frames,
      size: m.size,
      backend: out.measured_backend,
      saved_activation_bytes: out.saved_activation_bytes,
      inference_peak_bytes: out.inference_peak_bytes,
      measured_train_peak_tensor_bytes: out.measured_train_peak_tensor_bytes,
      measured_inference_peak_tensor_bytes: out.measured_inference_peak_tensor_bytes,
      measured_peak_rss_bytes: out.measured_peak_rss_bytes,
      param_bytes: out.param_bytes,
    });
    md.push({
      config,
      frames,
      "analytic train saved (MiB)": r(out.saved_activation_bytes / MiB, 1),
      "tfjs train peak (MiB)": r(out.measured_train_peak_tensor_bytes / MiB, 1),
      "analytic infer peak (MiB)": r(out.inference_peak_bytes / MiB, 1),
      "tfjs infer peak (MiB)": r(out.measured_inference_peak_tensor_bytes / MiB, 1),
      "peak RSS (MiB)": r(out.measured_peak_rss_bytes / MiB, 0),
      "weights (MiB)": r(out.param_bytes / MiB, 1),
    });
    bar.increment();
  }
  bar.stop();
  return {
    name: "memory-measured",
    title: `Analytic vs measured memory (tfjs ${String(csv[0]?.backend ?? "")}, 1 clip, ${m.size}x${m.size})`,
    note: [
      "tfjs peaks = peak bytes of distinct live tensor buffers above those live before the pass (weights, input); train = forward + backward of the mean logit (tf.variableGrads).",
      "tfjs keeps every forward intermediate (and, on wasm, a copy of each weight its kernels read) on its tape until backward ends, and its gradients add the weights' size again, so its training peak is well above PyTorch's saved-for-backward bytes.",
      "Peak RSS = whole process (runtime, weights, allocator slack), each configuration in its own process.",
    ].join("\n"),
    csv,
    md: [{ heading: "", rows: md }],
  };
}

/** Write each table as <dir>/<name>.md and <dir>/<name>.csv; returns the paths written. */
export function writeProfileTables(dir: string, countsFile: string, measure?: MeasureSettings): string[] {
  const tables = [flopsTable(readCounts(countsFile)), memoryVsFramesTable()];
  if (measure) tables.push(measuredMemoryTable(measure));
  const written: string[] = [];
  for (const t of tables) {
    const mdFile = join(dir, `${t.name}.md`);
    const csvFile = join(dir, `${t.name}.csv`);
    const sections = t.md.flatMap(({ heading, rows }) => [...(heading ? [`## ${heading}`, ""] : []), renderRows(rows, "md").trimEnd(), ""]);
    const md = [
      `# ${t.title}`,
      "",
      "Generated by `blvnet profile --tables` from the model definitions; do not edit.",
      "",
      ...sections,
      t.note,
      "",
    ].join("\n");
    writeFileAtomic(mdFile, md);
    writeFileAtomic(csvFile, renderRows(t.csv, "csv"));
    written.push(mdFile, csvFile);
  }
  return written;
}
