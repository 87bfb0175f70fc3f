/**
 * Dev cross-check against the real PyTorch code (not a unit test: needs Python with torch/torchvision).
 * Writes, for a few small configs, our refgen-v1 state dict (safetensors), the refgen input and our
 * tfjs output; `check.py` loads the state dict strictly into torchvision / the official TSN and compares.
 *   npx tsx --conditions=source packages/baselines/tools/crosscheck/dump.ts /tmp/xchk
 *   /usr/bin/python3 packages/baselines/tools/crosscheck/check.py /tmp/xchk <temporal-shift-module checkout>
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createModel,
  fillDeterministic,
  initBackend,
  inputShape,
  refgenInput,
  runForward,
  stateDict,
  writeSafetensors,
} from "@blvnet/core";
import "@blvnet/baselines";

const CASES: [tag: string, model: string, options: Record<string, unknown>, clips: number][] = [
  ["r3d", "r3d", { frames: 4, size: 32, numClasses: 7 }, 2],
  ["mc3", "mc3", { frames: 4, size: 32, numClasses: 7 }, 2],
  ["r2plus1d", "r2plus1d", { frames: 6, size: 48, numClasses: 7 }, 2],
  ["tsm_block18", "tsm", { frames: 4, size: 32, numClasses: 7, shiftPlace: "block", depth: 18, dropout: 0.5 }, 2],
  ["tsm101", "tsm", { frames: 4, size: 32, numClasses: 7, depth: 101, dropout: 0 }, 2],
  ["tsn34", "tsn", { frames: 3, size: 32, numClasses: 7, depth: 34, dropout: 0 }, 2],
];

const dir = process.argv[2] ?? "/tmp/xchk";
mkdirSync(dir, { recursive: true });
await initBackend(process.env.BLVNET_BACKEND ?? "wasm");
for (const [tag, name, options, clips] of CASES) {
  const m = createModel(name, options);
  fillDeterministic(m);
  m.eval();
  const shape = inputShape(m.inputSpec, clips);
  const x = refgenInput(shape);
  const y = await runForward(m, x, shape);
  writeSafetensors(join(dir, `${tag}.safetensors`), stateDict(m));
  writeFileSync(join(dir, `${tag}.in.f32`), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  writeFileSync(join(dir, `${tag}.json`), JSON.stringify({ model: name, options, shape, outShape: y.shape, out: [...y.data] }));
  console.log(`${tag}: ${m.id} -> ${dir}`);
}
process.exit(0);
