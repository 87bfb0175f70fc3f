/**
 * Node placement: parsing onnxruntime's verbose "Node placements" report and profiles, the ONNX node
 * walker, and a real probe of a CPU session (no GPU needed).
 */
import { describe, expect, it } from "vitest";
import { onnxNodes, webgpuUnsupportedNodes } from "./onnx-nodes.js";
import { formatPlacement, parsePlacementLog, placementFromProfile, probeNodePlacement } from "./placement.js";
import { tinyAddModel } from "./tiny-onnx.js";

const P = "2026-12-03 12:31:53.482847578 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp]";

describe("node placement", () => {
  it("parses the one-EP form", () => {
    const log = [
      `${P} Node placements`,
      `${P}  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 45`,
      "2026-12-03 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping",
    ].join("\n");
    expect(parsePlacementLog(log, "webgpu")).toEqual({
      totalNodes: 45,
      byProvider: { WebGpuExecutionProvider: 45 },
      cpuFallbackNodes: 0,
      fallbackOpTypes: [],
      memcpyNodes: 0,
      source: "verbose-log",
    });
  });

  it("parses the several-EP form with node lists", () => {
    const log = [
      `${P} Node placements`,
      `${P}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3`,
      `${P}   MaxPool (MaxPool_21)`,
      `${P}   Shape (Shape_3)`,
      `${P}   Shape (Shape_9)`,
      `${P}  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 4`,
      `${P}   Conv (Conv_2)`,
      `${P}   MemcpyToHost (Memcpy_token_1)`,
      `${P}   MemcpyFromHost (Memcpy_token_2)`,
      `${P}   Relu (Relu_4)`,
      "2026-12-03 [V:onnxruntime:, session_state.cc:186 CreateGraphInfo] SaveMLValueNameIndexMapping",
    ].join("\n");
    const p = parsePlacementLog(log, "webgpu")!;
    expect(p.totalNodes).toBe(7);
    expect(p.byProvider).toEqual({ CPUExecutionProvider: 3, WebGpuExecutionProvider: 4 });
    expect(p.cpuFallbackNodes).toBe(3);
    expect(p.fallbackOpTypes).toEqual([
      { opType: "Shape", nodes: 2 },
      { opType: "MaxPool", nodes: 1 },
    ]);
    expect(p.memcpyNodes).toBe(2);
    expect(formatPlacement(p)).toBe("3/7 nodes on CPU: Shape x2, MaxPool x1; 2 memcpy");
  });

  it("returns null without a report", () => {
    expect(parsePlacementLog("nothing here", "webgpu")).toBeNull();
  });

  it("reads providers from a profile", () => {
    const events = [
      { cat: "Session", name: "model_run" },
      { cat: "Node", name: "Conv_2_kernel_time", args: { op_name: "Conv", provider: "WebGpuExecutionProvider" } },
      { cat: "Node", name: "Conv_2_kernel_time", args: { op_name: "Conv", provider: "WebGpuExecutionProvider" } },
      { cat: "Node", name: "Gather_7_kernel_time", args: { op_name: "Gather", provider: "CPUExecutionProvider" } },
      { cat: "Node", name: "Gather_7_fence_before", args: { op_name: "Gather" } },
    ];
    const p = placementFromProfile(events, "webgpu");
    expect(p).toMatchObject({ totalNodes: 2, cpuFallbackNodes: 1, fallbackOpTypes: [{ opType: "Gather", nodes: 1 }], source: "profile" });
  });

  it("walks ONNX bytes and finds MaxPool nodes with Indices", () => {
    expect(onnxNodes(tinyAddModel())).toEqual([{ name: "add", opType: "Add", inputs: ["x", "x"], outputs: ["y"] }]);
    expect(webgpuUnsupportedNodes(tinyAddModel())).toEqual({ names: [], unnamed: 0 });
  });

  it("probes a real CPU session in a child process", async () => {
    const p = await probeNodePlacement(tinyAddModel(), "cpu");
    expect(p).toMatchObject({ totalNodes: 1, byProvider: { CPUExecutionProvider: 1 }, cpuFallbackNodes: 0 });
  });
});
