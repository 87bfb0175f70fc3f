#!/usr/bin/env python3
"""Make a TSM (or TSN) golden file (`video-ref-golden/1`, see fixtures/golden/README.md) with the OFFICIAL code.

Usage: make_tsm_golden.py --src /path/to/temporal-shift-module --out FILE.json
           [--depth 50] [--frames 8] [--size 64] [--clips 2] [--classes 10] [--shift-div 8]
           [--shift-place blockres] [--no-shift] [--name NAME] [--no-intermediates]
e.g. the committed small golden: --frames 8 --size 64 --clips 2 --classes 10 --name small-tsm-r50-8f-64-2clips
     the Something-Something one: --frames 16 --size 160 --clips 2 --classes 174

Imports `ops.models.TSN` from the checkout given by --src (mit-han-lab/temporal-shift-module,
commit 1f6a834; nothing of it is copied here) and needs torch + torchvision (Debian: python3-torch,
python3-torchvision 0.14). Builds `TSN(classes, frames, "RGB", base_model="resnet{depth}",
is_shift=True, shift_div, shift_place, dropout=0, partial_bn=False, pretrain="none")`, fills
every state_dict entry (but num_batches_tracked) and the input with the deterministic generator
`refgen-v1` (fixtures/golden/weights-spec.md: FNV-1a name hash + murmur finalizer, fan_in rule for
conv/linear weights, BN weight/bias/running stats rules, input = u("input") * S(1) in the layout
(N, T*3, H, W)), and runs it in eval mode in float64 (the reference) and in float32 (to record
what a float32 implementation should reach).

The file holds: config, environment (versions, the official commit and git blob ids), the input as
stats + 64 samples only (a port regenerates it from refgen-v1; `blvnet verify` does), the logits in
full, the state_dict listing (shape, rule, fan_in, sum, sum_abs, first4), stats + 64 samples of
the stage tensors (stem_out = after maxpool, layer1_out..layer4_out, pool, frame_logits), the float32
run's distance to the reference, a tolerance hint and timings. Anything the official code prints
goes to stderr.
"""
import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch

M32 = 0xFFFFFFFF


def fnv(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & M32
    return h


def u(name, n):
    """refgen-v1 uniforms in [-0.5, 0.5): fmix32(fnv1a32(name) ^ i * 0x9E3779B9) >> 8, / 2^24 - 0.5."""
    seed = np.uint64(fnv(name))
    i = np.arange(n, dtype=np.uint64)
    h = (seed ^ ((i * np.uint64(0x9E3779B9)) & np.uint64(M32))) & np.uint64(M32)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    h ^= h >> np.uint64(16)
    return (h >> np.uint64(8)).astype(np.float64) / 16777216.0 - 0.5


def S(fan):
    return float(np.float32(2 * math.sqrt(3 / fan)))


def value(name, shape):
    """The refgen-v1 value of a state_dict entry (float32), its rule and fan_in."""
    n = int(np.prod(shape)) if len(shape) else 1
    x = u(name, n)
    fan = None
    if name.endswith("running_mean"):
        v, rule = 0.2 * x, "running_mean"
    elif name.endswith("running_var"):
        v, rule = 1 + 0.5 * (x + 0.5), "running_var"
    elif len(shape) >= 2:
        fan = int(np.prod(shape[1:]))
        v, rule = x * S(fan), "fan_in"
    elif name.endswith("weight"):
        v, rule = 1 + 0.2 * x, "bn_weight"
    else:
        v, rule = 0.2 * x, "bias"
    return v.astype(np.float32).reshape(shape), rule, fan


def record(a, layout=None):
    """Tensor record: shape, layout, stats (float64) and 64 samples at flat indices i*n//64."""
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    n = flat.size
    idx = [(i * n) // 64 for i in range(64)]
    rec = {"shape": list(np.shape(a))}
    if layout is not None:
        rec["layout"] = layout
    rec["stats"] = {"numel": int(n), "sum": float(flat.sum()), "sum_abs": float(np.abs(flat).sum()),
                    "sum_sq": float((flat ** 2).sum()), "min": float(flat.min()), "max": float(flat.max())}
    rec["samples"] = {"index": idx, "values": [float(flat[i]) for i in idx]}
    return rec


def git(src, *args):
    try:
        return subprocess.run(["git", "-C", src, *args], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="checkout of mit-han-lab/temporal-shift-module (ops/models.py)")
    ap.add_argument("--out", required=True, help="golden file to write (.json)")
    ap.add_argument("--depth", type=int, default=50, help="torchvision ResNet depth (18, 34, 50, 101, 152)")
    ap.add_argument("--frames", type=int, default=8, help="num_segments T")
    ap.add_argument("--size", type=int, default=64, help="input height = width")
    ap.add_argument("--clips", type=int, default=2, help="clips N in the batch")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--shift-div", type=int, default=8, help="fold = C // shift_div channels shift each way")
    ap.add_argument("--shift-place", default="blockres", choices=["blockres", "block"])
    ap.add_argument("--no-shift", action="store_true", help="plain TSN (is_shift=False)")
    ap.add_argument("--name", help="golden name (default tsm-r{depth}-{frames}f-{size}-{clips}clips)")
    ap.add_argument("--no-intermediates", action="store_true", help="leave out the stage tensors")
    args = ap.parse_args()

    src = os.path.abspath(args.src)
    sys.path.insert(0, src)
    import torchvision  # noqa: F401  (the official code needs it)
    with contextlib.redirect_stdout(sys.stderr):
        from ops.models import TSN  # official code

    shift = not args.no_shift
    arch = "tsm" if shift else "tsn"
    name = args.name or f"{arch}-r{args.depth}-{args.frames}f-{args.size}-{args.clips}clips"
    with contextlib.redirect_stdout(sys.stderr):
        model = TSN(args.classes, args.frames, "RGB", base_model=f"resnet{args.depth}", dropout=0.0,
                    partial_bn=False, pretrain="none", is_shift=shift, shift_div=args.shift_div,
                    shift_place=args.shift_place)

    sd = model.state_dict()
    listing = []
    for k, t in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        v, rule, fan = value(k, list(t.shape))
        t.copy_(torch.from_numpy(v))
        v64 = v.astype(np.float64)
        listing.append({"key": k, "shape": list(t.shape), "rule": rule, "fan_in": fan, "sum": float(v64.sum()),
                        "sum_abs": float(np.abs(v64).sum()), "first4": [float(a) for a in v.reshape(-1)[:4]]})
    model.load_state_dict(sd)

    shape = (args.clips, args.frames * 3, args.size, args.size)
    x = (u("input", int(np.prod(shape))) * S(1)).astype(np.float32).reshape(shape)

    taps = {}
    bm = model.base_model
    stages = [("stem_out", bm.maxpool), ("layer1_out", bm.layer1), ("layer2_out", bm.layer2), ("layer3_out", bm.layer3),
              ("layer4_out", bm.layer4), ("pool", bm.avgpool), ("frame_logits", bm.fc)]
    for stage, mod in stages:
        mod.register_forward_hook(lambda m, i, o, stage=stage: taps.__setitem__(stage, o.detach().numpy().copy()))

    model.eval()  # TSN.eval() returns None: do not chain
    with torch.no_grad():
        model.double()
        t0 = time.perf_counter()
        y = model(torch.from_numpy(x.astype(np.float64))).numpy()
        t_ref = time.perf_counter() - t0
        ref_taps = dict(taps)
        model.float()
        t0 = time.perf_counter()
        y32 = model(torch.from_numpy(x)).numpy().astype(np.float64)
        t_f32 = time.perf_counter() - t0

    diff = np.abs(y32 - y)
    mod_files = ["ops/models.py", "ops/temporal_shift.py", "ops/basic_ops.py"]
    blobs = {f: git(src, "hash-object", f) for f in mod_files}
    conv = "(N*T, C, H, W)"
    layouts = {"stem_out": conv, "layer1_out": conv, "layer2_out": conv, "layer3_out": conv, "layer4_out": conv,
               "pool": "(frames, C, 1, 1)", "frame_logits": "(frames, classes) before temporal averaging"}
    golden = {
        "format": "video-ref-golden/1",
        "name": name,
        "visibility": "public",
        "family": "tsn",
        "config": {"num_segments": args.frames, "num_classes": args.classes, "base_model": f"resnet{args.depth}",
                   "shift": shift, "shift_div": args.shift_div, "shift_place": args.shift_place, "clips": args.clips,
                   "frames": args.frames, "resolution": args.size, "eval_mode": True, "dropout": 0.0, "pretrained": False},
        "official_code": f"mit-han-lab/temporal-shift-module ops/models.py TSN (resnet{args.depth})",
        "environment": {"torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
                        "python": platform.python_version(), "machine": platform.machine(),
                        "official_sources": {"TSM_SRC": {"commit": git(src, "rev-parse", "HEAD"), "git_blob_sha1": blobs}}},
        "reference_dtype": "float64",
        "weights": {"spec": "weights-spec.md", "version": "refgen-v1", "param_dtype": "float32 values (exact), upcast to float64"},
        # stats + samples only: a port regenerates the input from refgen-v1
        "input": {**record(x), "name": "input", "dtype": "float32",
                  "layout": "(N, T*3, H, W): channel index = t*3 + c, i.e. contiguous (N, T, 3, H, W); "
                            "TSN.forward views it as (N*T, 3, H, W)"},
        "output": {"shape": list(y.shape), "layout": "(N, classes)", "values": [float(a) for a in y.reshape(-1)]},
        "float32_vs_reference": {"max_abs": float(diff.max()), "max_abs_over_max_ref": float(diff.max() / np.abs(y).max()),
                                 "max_rel_elementwise": float((diff / np.abs(y)).max()),
                                 "backend": f"PyTorch {torch.__version__} CPU float32"},
        "tolerance_hint": {"metric": "max|out - golden| / max|golden|", "float32_impl": 1e-4,
                           "note": "float32 implementations accumulating in a different order typically land within a few x "
                                   "of float32_vs_reference; float64 ones within ~1e-10"},
        "params": listing,
        "timing_s": {"reference": round(t_ref, 2), "float32": round(t_f32, 2)},
    }
    if not args.no_intermediates:
        golden["intermediates"] = {s: record(ref_taps[s], layouts[s]) for s, _ in stages}
    with open(args.out, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    print(f"wrote {args.out}: {name}, output {list(y.shape)}, {os.path.getsize(args.out)} bytes, "
          f"float64 {t_ref:.1f} s, float32 vs float64 {diff.max() / np.abs(y).max():.2e}")


if __name__ == "__main__":
    main()
