import { afterEach, describe, expect, it, vi } from "vitest";
import { listBackends } from "@blvnet/core";
import { main } from "./cli.js";

/** Run the CLI in-process; returns the exit code and what it printed to stderr. */
async function runCli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const lines: string[] = [];
  const outLines: string[] = [];
  const err = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  const out = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void outLines.push(a.join(" ")));
  try {
    return { code: await main(["node", "blvnet", ...args]), stderr: lines.join("\n"), stdout: outLines.join("\n") };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

describe("--backend", () => {
  afterEach(() => vi.restoreAllMocks());

  it("tensorflow, when not installed, exits 2 with one line naming the package to install", async () => {
    if ((await listBackends()).find((b) => b.name === "tensorflow")!.available) return;
    const { code, stderr } = await runCli(["--backend", "tensorflow", "models"]);
    expect(code).toBe(2);
    expect(stderr.split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^blvnet: backend "tensorflow" is not installed: run `npm install @tensorflow\/tfjs-node`/);
  });

  it("an unknown name exits 2 and lists the choices", async () => {
    const { code, stderr } = await runCli(["--backend", "tpu", "models"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^blvnet: unknown backend "tpu"; choose one of tensorflow, wasm, cpu/);
  });

  it("a valid name runs the command", async () => {
    expect((await runCli(["--backend", "cpu", "models"])).code).toBe(0);
  });

  it("env reports the wasm thread count set by BLVNET_THREADS", async () => {
    const saved = process.env.BLVNET_THREADS;
    process.env.BLVNET_THREADS = "2";
    try {
      const { code, stdout } = await runCli(["--backend", "wasm", "env", "--json"]);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ selected: "wasm", threads: 2 });
    } finally {
      if (saved === undefined) delete process.env.BLVNET_THREADS;
      else process.env.BLVNET_THREADS = saved;
    }
  });
});
