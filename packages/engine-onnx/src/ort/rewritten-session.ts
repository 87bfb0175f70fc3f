/**
 * How both blocked-layout sessions are opened (cpuSessionWithBlockedShifts on onnxruntime-node's
 * binding, cpuSessionWithRowBlend on the C API): a first session optimises the graph and saves it,
 * `rewrite` changes the saved graph (nchwc-reorders.ts), and a second session runs the result as
 * saved (optimisations off). The first session is kept when nothing was rewritten or the rewrite
 * failed, and a plain one is made again when the rewritten model does not load; `rewrites` says
 * which (0: not the rewritten graph).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ElidedReorders } from "./nchwc-reorders.js";

/** What to open: the graph optimised and saved to `optimizedModelFilePath`, the graph as saved (`asSaved`), or neither: the plain session. */
export interface OpenHow {
  optimizedModelFilePath?: string;
  asSaved?: boolean;
}

export async function openRewritten<S extends { release(): Promise<void> }>(
  bytes: Uint8Array,
  open: (model: Uint8Array, how: OpenHow) => Promise<S>,
  rewrite: (optimized: Uint8Array) => ElidedReorders,
): Promise<{ session: S; rewrites: number }> {
  const dir = mkdtempSync(join(tmpdir(), "blvnet-ort-"));
  try {
    const path = join(dir, "optimized.onnx");
    const first = await open(bytes, { optimizedModelFilePath: path });
    let rewritten: ElidedReorders;
    try {
      rewritten = rewrite(readFileSync(path));
    } catch {
      return { session: first, rewrites: 0 };
    }
    if (!rewritten.rewrites) return { session: first, rewrites: 0 };
    // one session's weights in memory at a time
    await first.release();
    try {
      return { session: await open(rewritten.bytes, { asSaved: true }), rewrites: rewritten.rewrites };
    } catch {
      return { session: await open(bytes, {}), rewrites: 0 };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
