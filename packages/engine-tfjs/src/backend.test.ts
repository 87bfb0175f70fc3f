import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { UserError } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BACKEND_PRIORITY, backendThreads, checkBackend, initBackend, listBackends, requestedThreads, shutdownBackend } from "./backend.js";

const savedEnv = { backend: process.env.BLVNET_BACKEND, threads: process.env.BLVNET_THREADS };
afterEach(() => {
  for (const [k, v] of [
    ["BLVNET_BACKEND", savedEnv.backend],
    ["BLVNET_THREADS", savedEnv.threads],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(async () => {
  await shutdownBackend();
});

describe("backend selection", () => {
  it("lists every backend in priority order, cpu always available", async () => {
    const list = await listBackends();
    expect(list.map((b) => b.name)).toEqual([...BACKEND_PRIORITY]);
    expect(list.find((b) => b.name === "cpu")!.available).toBe(true);
    expect(list.find((b) => b.name === "wasm")!.available).toBe(true);
  });

  it("an explicit name wins over BLVNET_BACKEND", async () => {
    process.env.BLVNET_BACKEND = "wasm";
    expect(await initBackend("cpu")).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
  });

  it("BLVNET_BACKEND selects when no name is given", async () => {
    process.env.BLVNET_BACKEND = "cpu";
    expect(await initBackend()).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
  });

  it("without a name, the first available backend in priority order", async () => {
    delete process.env.BLVNET_BACKEND;
    const best = (await listBackends()).find((b) => b.available)!.name;
    expect(await initBackend(undefined, { threads: 1 })).toBe(best);
    expect(tf.getBackend()).toBe(best);
  });

  it("an unknown name is a UserError listing the choices", async () => {
    await expect(checkBackend("webgl2")).rejects.toThrow(UserError);
    await expect(initBackend("webgl2")).rejects.toThrow(/unknown backend "webgl2"; choose one of tensorflow, wasm, cpu/);
  });

  it("tensorflow, when not installed, is a UserError with the install command", async () => {
    const tfInfo = (await listBackends()).find((b) => b.name === "tensorflow")!;
    if (tfInfo.available) return; // installed here: nothing to check
    const err = await initBackend("tensorflow").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/npm install @tensorflow\/tfjs-node/);
  });
});

describe("wasm threads", () => {
  it("thread count: option, then BLVNET_THREADS, else all logical cores", () => {
    delete process.env.BLVNET_THREADS;
    expect(requestedThreads()).toBe(availableParallelism());
    process.env.BLVNET_THREADS = "3";
    expect(requestedThreads()).toBe(3);
    expect(requestedThreads(2)).toBe(2);
    process.env.BLVNET_THREADS = "two";
    expect(() => requestedThreads()).toThrow(/BLVNET_THREADS must be a positive integer, got "two"/);
    expect(() => requestedThreads(0)).toThrow(UserError);
  });

  it("2 threads compute what 1 thread computes; shutdown allows a re-init", async () => {
    const conv = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 2 * 9 * 9 * 8 }, (_, i) => Math.sin(i)),
          [2, 9, 9, 8],
        );
        const w = tf.tensor4d(
          Float32Array.from({ length: 3 * 3 * 8 * 16 }, (_, i) => Math.cos(i)),
          [3, 3, 8, 16],
        );
        return tf.conv2d(x, w, 1, "same").dataSync();
      });
    await shutdownBackend();
    await initBackend("wasm", { threads: 2 });
    expect(backendThreads()).toBe(2);
    const two = conv();
    await shutdownBackend();
    await initBackend("wasm", { threads: 1 });
    expect(backendThreads()).toBe(1);
    expect(Array.from(conv())).toEqual(Array.from(two));
    await shutdownBackend();
  });

  it.each([
    ["never shuts down", ""],
    ["shuts down, then prints", 'await shutdownBackend(); console.log("down");'],
  ])("a process that starts 2 wasm threads and %s exits by itself with all its output", async (_, tail) => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const script = [
      'import * as tf from "@tensorflow/tfjs-core";',
      'import { initBackend, backendThreads, shutdownBackend } from "@blvnet/engine-tfjs";',
      'await initBackend("wasm", { threads: 2 });',
      'tf.conv2d(tf.ones([1, 8, 8, 4]), tf.ones([3, 3, 4, 4]), 1, "same").dataSync();',
      'console.log("threads", backendThreads());',
      tail,
    ].join("\n");
    // execFile rejects on a non-zero exit (13 = unsettled top-level await) or after the timeout
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--conditions=source", "--input-type=module", "-e", script],
      {
        cwd: root,
        timeout: 60_000,
      },
    );
    expect(stdout.trim().split("\n")).toEqual(tail ? ["threads 2", "down"] : ["threads 2"]);
  });
});
