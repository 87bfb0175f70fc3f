/**
 * The nvidia-smi sampler against a fake nvidia-smi (a shell script on PATH that answers both
 * queries in loop mode), and "n/a" where nvidia-smi is absent.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatPeak, GpuMemorySampler, parseComputeApps, parseGpuUsed } from "./gpu-memory.js";

const savedPath = process.env.PATH;
let dir: string | null = null;

afterEach(() => {
  process.env.PATH = savedPath;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** A fake nvidia-smi: memory.used climbs 1000, 1400, 1800, ... MiB; our PID uses 300 then 700 MiB. */
function fakeSmi(pid: number): void {
  dir = mkdtempSync(join(tmpdir(), "fake-smi-"));
  const script = `#!/bin/sh
case "$*" in
  *query-gpu*) i=0; while [ $i -lt 200 ]; do echo "0, $((1000 + 400 * (i < 3 ? i : 3)))"; i=$((i+1)); sleep 0.02; done ;;
  *query-compute-apps*) i=0; while [ $i -lt 200 ]; do if [ $i -lt 2 ]; then echo "${pid}, 300"; else echo "${pid}, 700"; fi; echo "99999, 5000"; i=$((i+1)); sleep 0.02; done ;;
esac
`;
  writeFileSync(join(dir, "nvidia-smi"), script);
  chmodSync(join(dir, "nvidia-smi"), 0o755);
  process.env.PATH = `${dir}:${savedPath}`;
}

describe("GPU memory sampler", () => {
  it("parses nvidia-smi csv lines", () => {
    expect(parseComputeApps("1234, 512\n 99, 7 \nNo running processes found\n")).toEqual([
      { pid: 1234, usedMiB: 512 },
      { pid: 99, usedMiB: 7 },
    ]);
    expect(parseGpuUsed("0, 143000")).toEqual({ index: 0, usedMiB: 143000 });
    expect(parseGpuUsed("[N/A]")).toBeNull();
  });

  it("peaks of the watched process and of the device over the baseline", async () => {
    fakeSmi(process.pid);
    const s = await GpuMemorySampler.start({ intervalMs: 20 });
    expect(s).not.toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    const p = await s!.stop();
    expect(p.processPeakMiB).toBe(700); // other PIDs ignored
    expect(p.deviceBaselineMiB).toBe(1000);
    expect(p.devicePeakMiB).toBe(1200);
    expect(p.samples).toBeGreaterThan(3);
    expect(formatPeak(p)).toBe("700");
  });

  it('is null (printed "n/a") where nvidia-smi is absent', async () => {
    dir = mkdtempSync(join(tmpdir(), "no-smi-"));
    process.env.PATH = dir; // nothing on PATH
    expect(await GpuMemorySampler.start()).toBeNull();
    expect(formatPeak(null)).toBe("n/a");
  });
});
