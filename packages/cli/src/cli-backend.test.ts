import { listBackends } from "@blvnet/engine-tfjs";
import { describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

describe("--backend", () => {
  it("tensorflow, when not installed, exits 2 with one line naming the package to install", async () => {
    if ((await listBackends()).find((b) => b.name === "tensorflow")!.available) return;
    const { code, err } = await runCli("--backend", "tensorflow", "models");
    expect(code).toBe(2);
    expect(err.split("\n")).toHaveLength(1);
    expect(err).toMatch(/^blvnet: backend "tensorflow" is not installed: run `npm install @tensorflow\/tfjs-node`/);
  });

  it("an unknown name exits 2 and lists the choices", async () => {
    const { code, err } = await runCli("--backend", "tpu", "models");
    expect(code).toBe(2);
    expect(err).toMatch(/^blvnet: unknown backend "tpu"; choose one of tensorflow, wasm, cpu/);
  });

  it("a valid name runs the command", async () => {
    expect((await runCli("--backend", "cpu", "models")).code).toBe(0);
  });

  it("env reports the wasm thread count set by BLVNET_THREADS", async () => {
    const saved = process.env.BLVNET_THREADS;
    process.env.BLVNET_THREADS = "2";
    try {
      const { code, out } = await runCli("--backend", "wasm", "env", "--json");
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ selected: "wasm", threads: 2 });
    } finally {
      if (saved === undefined) delete process.env.BLVNET_THREADS;
      else process.env.BLVNET_THREADS = saved;
    }
  });

  it("env names the Vulkan driver manifests it was given", async () => {
    const saved = process.env.VK_DRIVER_FILES;
    process.env.VK_DRIVER_FILES = "/tmp/nvidia_icd_egl.json:/usr/share/vulkan/icd.d/nvidia_icd.json";
    try {
      const json = await runCli("env", "--json", "--no-probe");
      expect(JSON.parse(json.out).vulkanDriverFiles).toEqual(["/tmp/nvidia_icd_egl.json", "/usr/share/vulkan/icd.d/nvidia_icd.json"]);
      expect((await runCli("env", "--no-probe")).out).toMatch(
        /^vulkan driver manifests: \/tmp\/nvidia_icd_egl\.json, \/usr\/share\/vulkan\/icd\.d\/nvidia_icd\.json$/m,
      );
    } finally {
      if (saved === undefined) delete process.env.VK_DRIVER_FILES;
      else process.env.VK_DRIVER_FILES = saved;
    }
  });
});
