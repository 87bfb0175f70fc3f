// The house rules, checked from the sources: every package imports only what its package.json declares,
// core has no runtime dependency, model packages depend on core (and tam) only, and no folder imports
// (directly or through others) a folder that imports it back.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(__dirname, "../../..");
const packagesDir = join(root, "packages");
const packages = readdirSync(packagesDir).filter((p) => statSync(join(packagesDir, p, "package.json"), { throwIfNoEntry: false }));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.ts$/.test(e.name) && !/\.(test|bench)\.ts$/.test(e.name) ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^"'`;]*?from\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ];
  return specs.map((m) => m[1]!);
}

const packageName = (spec: string) => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

describe("architecture", () => {
  it("each package imports only its declared dependencies; core none; model packages core and tam only", () => {
    const problems: string[] = [];
    for (const pkg of packages) {
      const manifest = JSON.parse(readFileSync(join(packagesDir, pkg, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      // devDependencies count for tools that live in src but are not exported (the fuzzer)
      const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.devDependencies ?? {})]);
      for (const file of sourceFiles(join(packagesDir, pkg, "src"))) {
        for (const spec of importsOf(file)) {
          if (spec.startsWith(".") || builtins.has(spec) || builtins.has(packageName(spec))) continue;
          if (!declared.has(packageName(spec))) problems.push(`${relative(root, file)} imports ${spec}, not in its package.json`);
        }
      }
    }
    expect(problems).toEqual([]);
    const deps = (pkg: string) =>
      Object.keys(
        (JSON.parse(readFileSync(join(packagesDir, pkg, "package.json"), "utf8")) as { dependencies?: object }).dependencies ?? {},
      );
    expect(deps("core")).toEqual([]);
    for (const model of ["tam", "blvnet", "baselines"])
      expect(
        deps(model).filter((d) => d !== "@blvnet/core" && d !== "@blvnet/tam"),
        model,
      ).toEqual([]);
  });

  it("no import cycle between folders (inside a package or across packages)", () => {
    // node = a source folder; an edge for every import that leaves the folder
    const edges = new Map<string, Set<string>>();
    const folderOf = (file: string) => relative(packagesDir, dirname(file));
    for (const pkg of packages) {
      // a package's index.ts only re-exports its folders (the package is entered there): not an edge
      for (const file of sourceFiles(join(packagesDir, pkg, "src")).filter((f) => !f.endsWith("/src/index.ts"))) {
        const from = folderOf(file);
        for (const spec of importsOf(file)) {
          let to: string | undefined;
          if (spec.startsWith(".")) to = folderOf(resolve(dirname(file), spec));
          else if (spec.startsWith("@blvnet/")) to = `${spec.slice("@blvnet/".length).split("/")[0]}/src`;
          if (to === undefined || to === from) continue;
          if (!edges.has(from)) edges.set(from, new Set());
          edges.get(from)!.add(to);
        }
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === "done") return;
      if (state.get(node) === "open") {
        cycles.push([...path.slice(path.indexOf(node)), node].join(" -> "));
        return;
      }
      state.set(node, "open");
      for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
      state.set(node, "done");
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
