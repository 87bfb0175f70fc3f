import { configDefaults, defineConfig } from "vitest/config";

// `npm run test:fast` (BLVNET_TESTS=fast) leaves out the files that train models, run full graphs through
// several engines, drive a browser or fuzz: what remains checks every package's logic in under a minute.
const SLOW = [
  "packages/train/src/engine-ort.test.ts",
  "packages/train/src/learns.test.ts",
  "packages/cli/src/commands/jobs.test.ts",
  "packages/models/src/frame-order.test.ts",
  "packages/bench/src/onnx-parity.test.ts",
  "packages/cli/src/train-cli.test.ts",
  "packages/cli/src/commands/bench.test.ts",
  "packages/baselines/src/video3d.test.ts",
  "packages/models/src/init.test.ts",
  "packages/blvnet/src/blvnet.test.ts",
  "packages/bench/src/verify.test.ts",
  "packages/engine-tfjs/src/backend.test.ts",
  "packages/bench/src/fuzz/fuzz.test.ts",
  "packages/bench/src/publish/report.test.ts",
  "packages/bench/src/ort-webgpu.test.ts",
  "packages/cli/src/bundle/bundle.test.ts",
];

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts"],
    exclude: process.env.BLVNET_TESTS === "fast" ? [...configDefaults.exclude, ...SLOW] : configDefaults.exclude,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
