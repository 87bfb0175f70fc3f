/**
 * Which execution provider runs each node of an onnxruntime session: how many nodes fell back to the
 * CPU EP and which op types they are. onnxruntime-node 1.30 has no API for this; two reliable sources:
 *
 * 1. `probeNodePlacement` (no run needed): onnxruntime's own partitioning report. At session creation
 *    with `logSeverityLevel: 0` it logs (VERBOSE, session_state.cc VerifyEachNodeIsAssignedToAnEp):
 *        Node placements
 *         All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 45
 *    or, when several EPs share the graph, one block per EP:
 *         Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3
 *          Gather (node_a)
 *          ...
 *    The log goes to the native stderr (fd 2), which Node cannot capture in-process, so the probe creates
 *    the session in a child Node process (same binary, same onnxruntime-node) and parses its stderr.
 *    The child never runs the model; it costs one extra session creation (graph optimisation + weights).
 * 2. `placementFromProfile` (in-process, after >= 1 run with `enableProfiling`): every "Node" event of
 *    onnxruntime's profile carries args.provider and args.op_name.
 *
 * Counts are over the *optimised* graph (after fusions, layout transforms and Memcpy insertion), which is
 * what actually runs. Memcpy nodes (MemcpyToHost/FromHost) are the EP's own and are reported separately.
 *
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webgpuUnsupportedNodes } from "./onnx-nodes.js";
import { type DeviceSessionOptions, executionProvidersFor, type OrtDevice, prepareDeviceEnv } from "./providers.js";

export interface NodePlacement {
  /** Nodes of the optimised graph (Memcpy nodes included). */
  totalNodes: number;
  /** Nodes per execution provider name ("CPUExecutionProvider", "WebGpuExecutionProvider", ...). */
  byProvider: Record<string, number>;
  /** Nodes on the CPU EP although another EP was asked for (0 on a CPU session). */
  cpuFallbackNodes: number;
  /** Op types of those nodes with their counts, most frequent first. */
  fallbackOpTypes: { opType: string; nodes: number }[];
  /** Memcpy nodes onnxruntime inserted between devices (each one a host<->device copy per run). */
  memcpyNodes: number;
  /** Where the figures come from. */
  source: "verbose-log" | "profile";
}

const CPU_EP = "CPUExecutionProvider";

/** Summarise per-node (opType, provider) pairs; `requested` is the EP asked for ("cpu" = no fallback possible). */
export function summarizePlacement(
  nodes: { opType: string; provider: string }[],
  requested: OrtDevice,
  source: NodePlacement["source"],
): NodePlacement {
  const byProvider: Record<string, number> = {};
  const fallback = new Map<string, number>();
  let memcpy = 0;
  for (const n of nodes) {
    byProvider[n.provider] = (byProvider[n.provider] ?? 0) + 1;
    if (n.opType.startsWith("Memcpy")) memcpy++;
    else if (requested !== "cpu" && n.provider === CPU_EP) fallback.set(n.opType, (fallback.get(n.opType) ?? 0) + 1);
  }
  const fallbackOpTypes = [...fallback]
    .map(([opType, c]) => ({ opType, nodes: c }))
    .sort((a, b) => b.nodes - a.nodes || a.opType.localeCompare(b.opType));
  return {
    totalNodes: nodes.length,
    byProvider,
    cpuFallbackNodes: fallbackOpTypes.reduce((s, r) => s + r.nodes, 0),
    fallbackOpTypes,
    memcpyNodes: memcpy,
    source,
  };
}

/**
 * Parse onnxruntime's verbose "Node placements" report (the whole stderr of a session creation with
 * logSeverityLevel 0). Returns null when the report is absent (e.g. the session failed first).
 */
export function parsePlacementLog(log: string, requested: OrtDevice): NodePlacement | null {
  const lines = log.split(/\r?\n/);
  // Strip the "2026-.. [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp] " prefix.
  const body = (l: string) => {
    const i = l.indexOf("VerifyEachNodeIsAssignedToAnEp]");
    return i < 0 ? null : l.slice(i + "VerifyEachNodeIsAssignedToAnEp]".length);
  };
  const start = lines.findIndex((l) => body(l)?.trim() === "Node placements");
  if (start < 0) return null;
  const nodes: { opType: string; provider: string }[] = [];
  let provider: string | null = null;
  let declared = 0;
  let counted = 0;
  const counts: Record<string, number> = {};
  for (let i = start + 1; i < lines.length; i++) {
    const b = body(lines[i]);
    if (b === null) {
      if (/\[[VIWEF]:onnxruntime/.test(lines[i])) break; // the next log record: report over
      continue;
    }
    const all = /All nodes placed on \[([^\]]+)\]\. Number of nodes: (\d+)/.exec(b);
    if (all) {
      // Op types are not listed in this form: every node is on one EP.
      const total = Number(all[2]);
      return {
        totalNodes: total,
        byProvider: { [all[1]]: total },
        cpuFallbackNodes: requested !== "cpu" && all[1] === CPU_EP ? total : 0,
        fallbackOpTypes: [],
        memcpyNodes: 0,
        source: "verbose-log",
      };
    }
    const some = /Node\(s\) placed on \[([^\]]+)\]\. Number of nodes: (\d+)/.exec(b);
    if (some) {
      provider = some[1];
      declared += Number(some[2]);
      counts[provider] = Number(some[2]);
      continue;
    }
    const node = /^\s+(\S+) \((.*)\)\s*$/.exec(b);
    if (node && provider) {
      nodes.push({ opType: node[1], provider });
      counted++;
    }
  }
  if (!provider) return null;
  if (counted !== declared) {
    // Node lines missing (format change): keep the declared per-EP counts, op types unknown.
    return {
      totalNodes: declared,
      byProvider: counts,
      cpuFallbackNodes: requested !== "cpu" ? (counts[CPU_EP] ?? 0) : 0,
      fallbackOpTypes: [],
      memcpyNodes: 0,
      source: "verbose-log",
    };
  }
  return summarizePlacement(nodes, requested, "verbose-log");
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

/** Placement from an onnxruntime profile JSON (one entry per node name; any number of runs). */
export function placementFromProfile(pathOrEvents: string | ProfileEvent[], requested: OrtDevice): NodePlacement {
  const events: ProfileEvent[] = typeof pathOrEvents === "string" ? JSON.parse(readFileSync(pathOrEvents, "utf8")) : pathOrEvents;
  const seen = new Map<string, { opType: string; provider: string }>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time") || !e.args?.provider) continue;
    const node = e.name.slice(0, -"_kernel_time".length);
    if (!seen.has(node)) seen.set(node, { opType: e.args.op_name ?? "?", provider: e.args.provider });
  }
  return summarizePlacement([...seen.values()], requested, "profile");
}

export interface ProbeOptions extends DeviceSessionOptions {
  /** Child process time limit, ms (default 120 s). */
  timeoutMs?: number;
}

const CHILD = `
const ort = require(process.env.BLVNET_ORT_PATH);
const [model, opts] = [process.env.BLVNET_PROBE_MODEL, JSON.parse(process.env.BLVNET_PROBE_OPTS)];
ort.env.logLevel = "verbose";
ort.InferenceSession.create(model, opts).then(
  (s) => s.release().then(() => process.exit(0)),
  (e) => { process.stderr.write("BLVNET_PROBE_ERROR " + String(e && e.message || e).split("\\n")[0] + "\\n"); process.exit(3); });
`;

/** The path of onnxruntime-node's CommonJS entry (resolved from this module). */
export function ortModulePath(): string {
  return createRequire(import.meta.url).resolve("onnxruntime-node");
}

/**
 * Node placement of a model (ONNX bytes or a file) on a device, from onnxruntime's own verbose report,
 * in a child process. Throws with onnxruntime's first error line when the session cannot be created.
 */
export async function probeNodePlacement(model: Uint8Array | string, device: OrtDevice, opts: ProbeOptions = {}): Promise<NodePlacement> {
  if (device === "webgpu") prepareDeviceEnv();
  let dir: string | null = null;
  let path: string;
  if (typeof model === "string") path = model;
  else {
    dir = mkdtempSync(join(tmpdir(), "blvnet-placement-"));
    path = join(dir, "model.onnx");
    writeFileSync(path, model);
  }
  // The same workaround pins as a real webgpu session gets (see onnx-nodes.ts), unless given.
  const bytes = typeof model === "string" ? readFileSync(model) : model;
  const forceCpuNodeNames = opts.forceCpuNodeNames ?? (device === "webgpu" ? webgpuUnsupportedNodes(bytes).names : undefined);
  const sessionOptions = {
    executionProviders: executionProvidersFor(device, { ...opts, forceCpuNodeNames }),
    graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
    intraOpNumThreads: 1,
    logSeverityLevel: 0,
    logVerbosityLevel: 0,
  };
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["-e", CHILD], {
        env: {
          ...process.env,
          BLVNET_ORT_PATH: ortModulePath(),
          BLVNET_PROBE_MODEL: path,
          BLVNET_PROBE_OPTS: JSON.stringify(sessionOptions),
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      // The verbose log of a big graph is large (every node, every transformer): keep only what matters.
      let pending = "";
      const keep = (chunk: string) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const l of lines)
          if (l.includes("VerifyEachNodeIsAssignedToAnEp") || l.includes("BLVNET_PROBE_ERROR") || /\[[EF]:onnxruntime/.test(l))
            err += l + "\n";
      };
      child.stdout.on("data", (c: Buffer) => keep(c.toString()));
      child.stderr.on("data", (c: Buffer) => keep(c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
      child.on("error", reject);
      child.on("close", (c) => {
        clearTimeout(timer);
        keep("\n");
        resolve({ code: c, stderr: err });
      });
    });
    const placement = parsePlacementLog(stderr, device);
    if (code !== 0 || !placement) {
      const why = /BLVNET_PROBE_ERROR (.*)/.exec(stderr)?.[1] ?? /\[[EF]:onnxruntime[^\]]*\] (.*)/.exec(stderr)?.[1] ?? `exit code ${code}`;
      throw new Error(`node placement probe on ${device} failed: ${why}`);
    }
    return placement;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** One line for `bench speed` output and the CSV note. */
export function formatPlacement(p: NodePlacement): string {
  if (p.cpuFallbackNodes === 0)
    return `all ${p.totalNodes} nodes on ${Object.keys(p.byProvider).join("+")}${p.memcpyNodes ? ` (${p.memcpyNodes} memcpy)` : ""}`;
  const ops = p.fallbackOpTypes.length ? `: ${p.fallbackOpTypes.map((r) => `${r.opType} x${r.nodes}`).join(", ")}` : "";
  return `${p.cpuFallbackNodes}/${p.totalNodes} nodes on CPU${ops}${p.memcpyNodes ? `; ${p.memcpyNodes} memcpy` : ""}`;
}
