// The bundle's sh launcher on a fake NVIDIA driver tree (BLVNET_NVIDIA_ROOT): which Vulkan ICD manifest it
// hands the loader, the driver folder on LD_LIBRARY_PATH, the bundle's commit. A fake `node` prints its env.

import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launcher } from "./bundle.js";

describe("bundle launcher", () => {
  let dir: string;
  let nv: string;
  let xdg: string;
  const run = (env: Record<string, string>) => {
    const r = spawnSync("sh", [join(dir, "blvnet")], {
      env: { PATH: process.env.PATH ?? "", BLVNET_NVIDIA_ROOT: nv, XDG_RUNTIME_DIR: xdg, ...env },
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    return Object.fromEntries(r.stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "blvnet-launcher-"));
    nv = join(dir, "nvidia");
    xdg = join(dir, "xdg");
    mkdirSync(join(nv, "share/vulkan/icd.d"), { recursive: true });
    mkdirSync(join(nv, "lib64"));
    mkdirSync(xdg);
    writeFileSync(
      join(nv, "share/vulkan/icd.d/nvidia_icd.json"),
      '{"ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.4.312"}}\n',
    );
    writeFileSync(join(nv, "lib64/libEGL_nvidia.so.0"), "");
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin/node"), "#!/bin/sh\nenv\n");
    chmodSync(join(dir, "bin/node"), 0o755);
    writeFileSync(join(dir, "blvnet"), launcher("0123456789ab"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("headless: a copy of NVIDIA's manifest names the driver's EGL library, ahead of the GLX original", () => {
    const env = run({});
    const icd = join(nv, "share/vulkan/icd.d/nvidia_icd.json");
    expect(env.VK_DRIVER_FILES).toBe(`${join(xdg, "nvidia_icd_egl.json")}:${icd}`);
    expect(JSON.parse(readFileSync(join(xdg, "nvidia_icd_egl.json"), "utf8")).ICD).toEqual({
      library_path: join(nv, "lib64/libEGL_nvidia.so.0"),
      api_version: "1.4.312",
    });
    expect(env.LD_LIBRARY_PATH?.split(":")).toContain(join(nv, "lib64"));
    expect(env.BLVNET_BUNDLE_COMMIT).toBe("0123456789ab");
  });

  it("leaves the manifest alone with a display, and a user's VK_DRIVER_FILES alone always", () => {
    expect(run({ DISPLAY: ":0" }).VK_DRIVER_FILES ?? "").not.toContain("egl");
    expect(run({ VK_DRIVER_FILES: "/x/icd.json" }).VK_DRIVER_FILES).toBe("/x/icd.json");
  });
});
