/**
 * `blvnet bundle --out FILE.tar.xz`: one relocatable archive that runs the CLI on an offline Linux x64
 * machine with no Node and no npm (a lent GPU server). Layout of the archive (one top folder):
 *
 *   blvnet-<version>-linux-x64/
 *     blvnet                 sh launcher: XDG_RUNTIME_DIR, bundled Vulkan loader, NVIDIA ICD (EGL when headless)
 *     bin/node               the Node binary that made the bundle (process.execPath)
 *     app/blvnet.mjs         the CLI and every pure-JS dependency, bundled by esbuild (tfjs-core and
 *                            its cpu backend included: plain JS; tfjs-backend-wasm left out, so tfjs
 *                            selects its cpu backend: the GPU sweep runs on onnxruntime)
 *     node_modules/          what cannot be bundled: onnxruntime-node (linux-x64 native files only) +
 *                            onnxruntime-common; sharp as a stub that explains itself (or real: --with-sharp)
 *     packages/...           files the CLI reads beside its code (train/package.json for the version, the
 *     results/reference/     PyTorch peer script, official counts, golden fixtures)
 *     fixtures/golden/
 *     lib/                   --with-vulkan-loader: libvulkan.so.1 (Debian libvulkan1) and
 *                            libGLdispatch.so.0 (Debian libglvnd0, needed by NVIDIA's Vulkan ICD library)
 *
 * Paths the sources compute from `import.meta.url` (../package.json, ../../peer/..., walks up to
 * fixtures/golden) keep working: an esbuild plugin rewrites `import.meta.url` in each workspace file to
 * the URL that file had in the monorepo, re-rooted at the bundle's top folder.
 *
 * Needs esbuild (a dev dependency here, through tsx), tar and xz: it runs from a checkout after npm ci.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gitCommit } from "@blvnet/train";

export interface BundleOptions {
  /** Archive to write (.tar.xz). */
  out: string;
  /** Monorepo root (default: found above this file). */
  repoRoot?: string;
  /** Node binary to ship (default: the running one). */
  nodeBinary?: string;
  /** Ship libvulkan.so.1 + libGLdispatch.so.0 from this machine (Debian libvulkan1/libglvnd0). */
  withVulkanLoader?: boolean;
  /** Ship sharp and its libvips (JPEG decoding of real datasets); default: a stub. */
  withSharp?: boolean;
  /** xz preset (default 9). */
  xzLevel?: number;
  /** xz threads (default 1: best ratio; 0 = all cores). */
  xzThreads?: number;
  /** Keep the staging folder (returned) instead of deleting it. */
  keepStage?: boolean;
  log?: (line: string) => void;
}

export interface BundleResult {
  out: string;
  bytes: number;
  /** Bytes before compression, per top-level part. */
  parts: Record<string, number>;
  stage?: string;
  topDir: string;
}

/** Packages the bundle must not inline (native or optional). */
const EXTERNAL = ["onnxruntime-node", "sharp", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "esbuild", "playwright-core"];

export function findRepoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir))
    if (existsSync(join(dir, "turbo.json")) && existsSync(join(dir, "packages"))) return dir;
  throw new Error(`no monorepo root (turbo.json + packages/) above ${from}`);
}

function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + duBytes(join(path, f)), 0);
}

function copyPackageFiles(src: string, dest: string, keep: (rel: string) => boolean): void {
  const walk = (dir: string) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name);
      const rel = relative(src, p);
      if (f.isDirectory()) walk(p);
      else if (keep(rel.split(sep).join("/"))) {
        mkdirSync(dirname(join(dest, rel)), { recursive: true });
        copyFileSync(p, join(dest, rel));
      }
    }
  };
  walk(src);
}

/** A package's folder as Node would find it from `from` (node_modules of `from` and its ancestors); no entry resolution, so "exports" cannot hide it. */
function packageRoot(from: string, name: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`package ${name} not found from ${from}`);
  }
}

/** The file behind a library name in the ld.so cache (x86-64 entries). */
function systemLibrary(name: string): string | null {
  try {
    const out = execFileSync("/sbin/ldconfig", ["-p"], { encoding: "utf8" });
    const m = new RegExp(`\\s${name.replace(/\./g, "\\.")} \\(libc6,x86-64\\) => (\\S+)`).exec(out);
    return m ? realpathSync(m[1]) : null;
  } catch {
    return null;
  }
}

const SHARP_STUB = `"use strict";
// This blvnet bundle was made without sharp (image decoding for JPEG-folder datasets).
// Synthetic inputs, speed/memory sweeps and ONNX work do not need it. Remake the bundle with --with-sharp.
function sharp() {
  throw new Error("sharp is not in this blvnet bundle (made without --with-sharp): decoding JPEG datasets needs it");
}
module.exports = sharp;
module.exports.default = sharp;
`;

/** The bundle's sh launcher; `commit` (the checkout's, at bundle time) goes into every result row's git_commit. */
export const launcher = (commit: string) => `#!/bin/sh
# blvnet launcher of a relocatable bundle: the bundled Node runs the bundled CLI; nothing to install.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
BLVNET_BUNDLE_COMMIT=${commit}
export BLVNET_BUNDLE_COMMIT
# The Vulkan loader warns (and some drivers fail) without XDG_RUNTIME_DIR.
if [ -z "\${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR="\${TMPDIR:-/tmp}/blvnet-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi
# Bundled Vulkan loader (--with-vulkan-loader): used only where the system has none.
if [ -f "$here/lib/libvulkan.so.1" ] && ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep 'libvulkan\\.so\\.1 ' >/dev/null; then
  LD_LIBRARY_PATH="$here/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi
# NVIDIA's driver folder in containers and cloud GPU images (BLVNET_NVIDIA_ROOT elsewhere): its ICD manifests
# name libraries without a path, so make the folder findable.
nv="\${BLVNET_NVIDIA_ROOT:-/usr/local/nvidia}"
if [ -d "$nv/lib64" ]; then LD_LIBRARY_PATH="\${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$nv/lib64"; export LD_LIBRARY_PATH; fi
if [ -z "\${VK_DRIVER_FILES:-}" ] && [ -z "\${VK_ICD_FILENAMES:-}" ]; then
  icd=""
  for f in /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json "$nv/share/vulkan/icd.d/nvidia_icd.json" "$nv/etc/vulkan/icd.d/nvidia_icd.json" /usr/lib/x86_64-linux-gnu/nvidia/nvidia_icd.json; do
    if [ -f "$f" ]; then icd="$f"; break; fi
  done
  egl=""
  for d in "$nv/lib64" /usr/lib/x86_64-linux-gnu /usr/lib64; do
    if [ -f "$d/libEGL_nvidia.so.0" ]; then egl="$d/libEGL_nvidia.so.0"; break; fi
  done
  others=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null)
  if [ -n "$icd" ] && [ -n "$egl" ] && [ -z "\${DISPLAY:-}\${WAYLAND_DISPLAY:-}" ] && grep -q '"libGLX_nvidia.so.0"' "$icd"; then
    # Headless, the driver's GLX library cannot create a Vulkan instance ("Could not get 'vkCreateInstance'",
    # seen on an H200 server); its EGL library can. A copy of the manifest names it, ahead of the original.
    sed "s#libGLX_nvidia.so.0#$egl#" "$icd" > "$XDG_RUNTIME_DIR/nvidia_icd_egl.json" &&
      VK_DRIVER_FILES="$XDG_RUNTIME_DIR/nvidia_icd_egl.json:$icd" && export VK_DRIVER_FILES
  elif [ -n "$icd" ] && [ -z "$others" ]; then
    VK_DRIVER_FILES="$icd" && export VK_DRIVER_FILES
  fi
fi
exec "$here/bin/node" "$here/app/blvnet.mjs" "$@"
`;

/** The part of esbuild's API used here (esbuild is a tool of the checkout, found at run time, not a dependency of the CLI). */
interface Esbuild {
  build(options: Record<string, unknown>): Promise<{ warnings: { text: string }[] }>;
}

/** esbuild plugin: `import.meta.url` of each workspace file → its monorepo URL re-rooted at the bundle top. */
function importMetaUrlPlugin(repoRoot: string) {
  return {
    name: "blvnet-import-meta-url",
    setup(build: { onLoad: (o: { filter: RegExp }, cb: (a: { path: string }) => { contents: string; loader: "js" } | undefined) => void }) {
      build.onLoad({ filter: /\.(m?js)$/ }, (args) => {
        const rel = relative(repoRoot, args.path).split(sep).join("/");
        // This module itself holds the text "import.meta.url" in strings; it is inert in a bundle.
        if (rel.startsWith("..") || rel.startsWith("node_modules/") || rel.endsWith("/bundle/bundle.js")) return undefined;
        const src = readFileSync(args.path, "utf8");
        if (!src.includes("import.meta.url")) return undefined;
        return { contents: src.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, __BLVNET_ROOT__).href`), loader: "js" };
      });
    },
  };
}

export async function makeBundle(opts: BundleOptions): Promise<BundleResult> {
  const log = opts.log ?? (() => {});
  const repoRoot = opts.repoRoot ?? findRepoRoot();
  const require = createRequire(join(repoRoot, "package.json"));
  let esbuild: Esbuild;
  try {
    esbuild = require("esbuild") as Esbuild;
  } catch {
    throw new Error("blvnet bundle needs esbuild (installed with the dev dependencies): run it from a checkout after `npm ci`");
  }
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error(`bundles are made for linux-x64 on linux-x64 (this is ${process.platform}-${process.arch})`);
  const version = (JSON.parse(readFileSync(join(repoRoot, "packages/train/package.json"), "utf8")) as { version: string }).version;
  const topDir = `blvnet-${version}-linux-x64`;
  const stageRoot = mkdtempSync(join(tmpdir(), "blvnet-bundle-"));
  const top = join(stageRoot, topDir);
  mkdirSync(top, { recursive: true });
  const parts: Record<string, number> = {};
  try {
    // 1. the CLI
    // tfjs-backend-wasm stays out: as an external package it would load a second tfjs-core (and its
    // .wasm files need their own path logic); measured, shipping its files costs only 0.3 MiB of xz.
    const external = [...EXTERNAL, "@tensorflow/tfjs-backend-wasm"];
    const entry = join(repoRoot, "packages/cli/bin/blvnet.js");
    const outfile = join(top, "app/blvnet.mjs");
    const r = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile,
      external,
      minify: true,
      legalComments: "none",
      // tfjs-backend-cpu is imported for its side effect (registering the backend) but says sideEffects: false.
      ignoreAnnotations: true,
      logLevel: "silent",
      banner: {
        js: [
          'import { createRequire as __blvnetCreateRequire } from "node:module";',
          "const require = __blvnetCreateRequire(import.meta.url);",
          'const __BLVNET_ROOT__ = new URL("../", import.meta.url);',
        ].join("\n"),
      },
      plugins: [importMetaUrlPlugin(repoRoot)],
    });
    for (const w of r.warnings) log(`esbuild warning: ${w.text}`);
    parts.app = duBytes(join(top, "app"));
    log(`app/blvnet.mjs: ${(parts.app / 2 ** 20).toFixed(1)} MiB`);

    // 2. node
    mkdirSync(join(top, "bin"));
    copyFileSync(opts.nodeBinary ?? process.execPath, join(top, "bin/node"));
    chmodSync(join(top, "bin/node"), 0o755);
    parts.node = duBytes(join(top, "bin"));

    // 3. native and unbundlable packages
    const nm = join(top, "node_modules");
    const ortDir = packageRoot(join(repoRoot, "packages/engine-onnx"), "onnxruntime-node");
    copyPackageFiles(
      ortDir,
      join(nm, "onnxruntime-node"),
      (rel) =>
        rel === "package.json" ||
        rel === "LICENSE" ||
        (rel.startsWith("dist/") && rel.endsWith(".js")) ||
        rel.startsWith("bin/napi-v6/linux/x64/"),
    );
    const commonDir = packageRoot(ortDir, "onnxruntime-common");
    copyPackageFiles(
      commonDir,
      join(nm, "onnxruntime-common"),
      (rel) =>
        rel === "package.json" || rel === "LICENSE" || (rel.startsWith("dist/") && (rel.endsWith(".js") || rel.endsWith("/package.json"))),
    );
    parts.onnxruntime = duBytes(join(nm, "onnxruntime-node")) + duBytes(join(nm, "onnxruntime-common"));
    if (opts.withSharp) {
      // sharp + its prebuilt libvips and JS deps, as installed here
      const sharpDir = packageRoot(join(repoRoot, "packages/data"), "sharp");
      const deps = ["sharp", "@img/sharp-linux-x64", "@img/sharp-libvips-linux-x64", "@img/colour", "detect-libc", "semver"];
      for (const d of deps) {
        let dir: string;
        try {
          dir = d === "sharp" ? sharpDir : packageRoot(sharpDir, d);
        } catch {
          continue; // optional (e.g. @img packages of other platforms)
        }
        cpSync(dir, join(nm, d), { recursive: true, dereference: true });
      }
      parts.sharp = duBytes(join(nm, "sharp")) + (existsSync(join(nm, "@img")) ? duBytes(join(nm, "@img")) : 0);
    } else {
      mkdirSync(join(nm, "sharp"), { recursive: true });
      writeFileSync(
        join(nm, "sharp/package.json"),
        JSON.stringify({ name: "sharp", version: "0.0.0-blvnet-stub", main: "index.js" }, null, 2),
      );
      writeFileSync(join(nm, "sharp/index.js"), SHARP_STUB);
    }

    // 4. data files the CLI reads next to its code
    const data: [string, string][] = [
      ["packages/train/package.json", "packages/train/package.json"],
      ["packages/bench/peer", "packages/bench/peer"],
      ["results/reference", "results/reference"],
      ["fixtures/golden", "fixtures/golden"],
    ];
    for (const [src, dest] of data) if (existsSync(join(repoRoot, src))) cpSync(join(repoRoot, src), join(top, dest), { recursive: true });
    writeFileSync(join(top, "turbo.json"), '{ "$comment": "marks the root of a blvnet bundle for the CLI\'s file lookups" }\n');
    parts.data = ["packages", "results", "fixtures"].reduce((s, d) => s + (existsSync(join(top, d)) ? duBytes(join(top, d)) : 0), 0);

    // 5. the Vulkan loader (and the GL dispatch library NVIDIA's ICD library needs)
    if (opts.withVulkanLoader) {
      mkdirSync(join(top, "lib"));
      for (const name of ["libvulkan.so.1", "libGLdispatch.so.0"]) {
        const src = systemLibrary(name);
        if (!src)
          throw new Error(
            `--with-vulkan-loader: ${name} is not installed here (Debian: apt-get install ${name.startsWith("libvulkan") ? "libvulkan1" : "libglvnd0"})`,
          );
        copyFileSync(src, join(top, "lib", name));
      }
      parts.lib = duBytes(join(top, "lib"));
    }

    // 6. launcher and a note
    writeFileSync(join(top, "blvnet"), launcher(gitCommit()));
    chmodSync(join(top, "blvnet"), 0o755);
    writeFileSync(
      join(top, "BUNDLE.txt"),
      [
        `blvnet ${version} for Linux x64 (commit ${gitCommit()}), bundled ${new Date().toISOString()} with Node ${process.version}.`,
        "Run ./blvnet --help. Needs glibc >= 2.28 and libstdc++ (present on common Linux servers).",
        "GPU through onnxruntime's WebGPU EP: needs a Vulkan loader (system libvulkan1, or lib/ here when made with",
        "--with-vulkan-loader) and the GPU driver's Vulkan ICD; the launcher finds NVIDIA's (also under /usr/local/nvidia,",
        "or BLVNET_NVIDIA_ROOT) and, with no display, points it at the driver's EGL library (GLX needs an X server).",
        `Made ${opts.withSharp ? "with" : "without"} sharp (JPEG datasets), ${opts.withVulkanLoader ? "with" : "without"} the Vulkan loader; tfjs runs on its cpu backend (no wasm).`,
        "",
      ].join("\n"),
    );

    // 7. archive
    const outPath = resolve(opts.out);
    mkdirSync(dirname(outPath), { recursive: true });
    const level = opts.xzLevel ?? 9;
    const tar = spawnSync(
      "sh",
      [
        "-c",
        `tar -C "$1" --owner=0 --group=0 --numeric-owner -cf - "$2" | xz -${level} -T${opts.xzThreads ?? 1} > "$3"`,
        "sh",
        stageRoot,
        topDir,
        outPath,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    if (tar.status !== 0) throw new Error(`tar | xz failed (exit ${tar.status})`);
    const bytes = statSync(outPath).size;
    log(`${basename(outPath)}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    return { out: outPath, bytes, parts, topDir, ...(opts.keepStage ? { stage: stageRoot } : {}) };
  } finally {
    if (!opts.keepStage) rmSync(stageRoot, { recursive: true, force: true });
  }
}
