import { describe, expect, it } from "vitest";
import { expandSweep } from "../sweep/spec.js";
import { runProfile } from "./profile.js";

describe("profile runner", () => {
  it("profiles the job's model at its frames and size", async () => {
    const [job] = expandSweep({
      name: "t",
      kinds: ["profile"],
      frames: [8],
      sizes: [64],
      batches: [1],
      backends: ["analytic"],
      models: [{ model: "tsn", options: { depth: 50, width: 16 } }],
    });
    const r = await runProfile(job!);
    expect(r.modelId).toBe("tsn-r50-w16-f8");
    expect(r.temporal).toBe("none");
    expect(r.depth).toBe(50);
    for (const m of ["params", "macs", "saved_activation_bytes"] as const) expect(Number(r.metrics[m])).toBeGreaterThan(0);
  });
});
