#!/usr/bin/env python3
"""Time the OFFICIAL PyTorch implementation of a model, for `blvnet bench speed --peer pytorch`.

Imports the official code from a checkout the user provides (--src); nothing of it is shipped here:
  - bLVNet-TAM: IBM/bLVNet-TAM, `core/models/blvnet_tam.py` (class bLVNet_TAM)
  - TSM / TSN:  mit-han-lab/temporal-shift-module, `ops/models.py` (class TSN; needs torchvision)
Builds the configuration given as JSON (--config), times eval-mode forward passes (torch.no_grad)
and optionally SGD training steps (lr 0.001, momentum 0.9) with the same thread count, and prints
ONE line of JSON on stdout. With --serve it builds once and answers JSON commands on stdin
({"op": "forward"|"train", "warmup": w, "iters": n} -> {"samples": [ms, ...]}; {"op": "quit"} ->
final info with peak RSS), so the caller can interleave its own runs with ours on a shared
machine. Anything the official code prints goes to stderr.

Config keys: model (blvnet-tam | tsm | tsn), options (the blvnet registry options: depth,
alpha, beta, frames, blendingFrames, numClasses, dropout, size, shiftDiv, shiftPlace), batch,
threads, warmup, iters, train (bool), seed, device (cpu | cuda; default cpu).
On cuda: model, input and labels on the GPU; every timed run is bracketed by torch.cuda.synchronize();
strict fp32 (TF32 off for convolutions and matmuls, like our WebGPU/CUDA EP runs) unless "tf32": true;
cudnn.benchmark on unless "cudnnBenchmark": false; both recorded in the info, with the GPU name and
torch.cuda.max_memory_allocated() as peak_gpu_bytes (the allocator's peak, without the CUDA context).
"""
import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
import time


def build_blvnet(src, opts):
    if not os.path.isfile(os.path.join(src, "core", "models", "blvnet_tam.py")):
        raise SystemExit(f"--peer-src {src}: core/models/blvnet_tam.py not found (expected a checkout of IBM/bLVNet-TAM)")
    sys.path.insert(0, src)
    from core.models.blvnet_tam import bLVNet_TAM  # noqa: E402  (official code)

    params = {
        "depth": opts["depth"],
        "alpha": opts["alpha"],
        "beta": opts["beta"],
        "groups": opts["frames"],
        "blending_frames": opts.get("blendingFrames", 3),
        "input_channels": 3,
        "imagenet_blnet_pretrained": False,
        "num_classes": opts["numClasses"],
        "dropout": opts["dropout"],
        "pretrained": False,
        "dataset": "st2stv2",
        "blending_method": "sum",
        "partial_freeze_bn": False,
    }
    return bLVNet_TAM(params), (opts["frames"] * 3, opts["size"], opts["size"])


def accept_positional_pretrained(arch):
    """The TSM code builds its backbone as torchvision.models.<arch>(False) (pretrain "none"); torchvision
    releases that take only `weights=` reject the positional bool. Then pass weights=None: the same network."""
    import torchvision

    builder = getattr(torchvision.models, arch)
    try:
        builder(False)
    except TypeError:
        setattr(torchvision.models, arch, lambda pretrained=False, **kw: builder(weights="DEFAULT" if pretrained else None, **kw))


def build_tsn(src, opts, is_shift):
    if not os.path.isfile(os.path.join(src, "ops", "models.py")):
        raise SystemExit(f"--peer-src {src}: ops/models.py not found (expected a checkout of mit-han-lab/temporal-shift-module)")
    sys.path.insert(0, src)
    accept_positional_pretrained(f"resnet{opts['depth']}")
    from ops.models import TSN  # noqa: E402  (official code)

    model = TSN(
        opts["numClasses"],
        opts["frames"],
        "RGB",
        base_model=f"resnet{opts['depth']}",
        consensus_type="avg",
        dropout=opts["dropout"],
        partial_bn=False,
        pretrain="none",
        is_shift=is_shift,
        shift_div=opts.get("shiftDiv", 8),
        shift_place=opts.get("shiftPlace", "blockres"),
    )
    return model, (opts["frames"] * 3, opts["size"], opts["size"])


BUILDERS = {
    # (the official code has no TAM-free bLVNet, so there is no peer for "blvnet")
    "blvnet-tam": build_blvnet,
    "tsm": lambda src, o: build_tsn(src, o, True),
    "tsn": lambda src, o: build_tsn(src, o, False),
}


def timed(fn, warmup, iters, sync=lambda: None):
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return samples


def summary(samples):
    s = sorted(samples)
    return {
        "mean": statistics.fmean(s),
        "p50": statistics.median(s),
        "sd": statistics.stdev(s) if len(s) > 1 else 0.0,
        "min": s[0],
        "max": s[-1],
        "samples": len(s),
    }


class Peer:
    """The built model plus its input; times forward passes and SGD steps on request."""

    def __init__(self, cfg, src):
        import torch

        self.torch = torch
        torch.set_num_threads(int(cfg["threads"]))
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        torch.manual_seed(int(cfg.get("seed", 0)))
        self.device = cfg.get("device", "cpu")
        self.cuda = self.device == "cuda"
        if self.cuda:
            if not torch.cuda.is_available():
                raise SystemExit("--peer-device cuda: torch.cuda.is_available() is False (no GPU, or a CPU build of PyTorch)")
            torch.backends.cudnn.benchmark = bool(cfg.get("cudnnBenchmark", True))
            tf32 = bool(cfg.get("tf32", False))
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
        self.dev = torch.device(self.device)
        self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)
        self.model, item_shape = BUILDERS[cfg["model"]](src, cfg["options"])
        self.model.to(self.dev)
        self.batch = int(cfg["batch"])
        self.classes = int(cfg["options"]["numClasses"])
        self.x = torch.randn((self.batch,) + item_shape).to(self.dev)
        self.opt = None
        self.model.eval()
        with torch.no_grad():
            self.output_shape = list(self.model(self.x).shape)

    def info(self):
        return {
            "torch_version": self.torch.__version__,
            "python_version": platform.python_version(),
            "threads": self.torch.get_num_threads(),
            "params": sum(p.numel() for p in self.model.parameters()),
            "output_shape": self.output_shape,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
            "device": self.device,
            **(
                {
                    "gpu_name": self.torch.cuda.get_device_name(0),
                    "peak_gpu_bytes": int(self.torch.cuda.max_memory_allocated()),
                    "cudnn_benchmark": bool(self.torch.backends.cudnn.benchmark),
                    "allow_tf32": bool(self.torch.backends.cudnn.allow_tf32),
                }
                if self.cuda
                else {}
            ),
        }

    def forward(self, warmup, iters):
        self.model.eval()
        with self.torch.no_grad():
            return timed(lambda: self.model(self.x), warmup, iters, self.sync)

    def train(self, warmup, iters):
        torch = self.torch
        self.model.train()
        if self.opt is None:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.001, momentum=0.9)
        labels = (torch.arange(self.batch) % self.classes).to(self.dev)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            self.opt.zero_grad()
            loss_fn(self.model(self.x), labels).backward()
            self.opt.step()

        try:
            return timed(step, warmup, iters, self.sync)
        finally:
            self.model.eval()


def serve(peer, out):
    """Line protocol: one JSON command per stdin line, one JSON answer per stdout line."""
    out.write(json.dumps({"ready": True, **peer.info()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "quit":
            out.write(json.dumps(peer.info()) + "\n")
            out.flush()
            return
        if op not in ("forward", "train"):
            raise SystemExit(f"unknown op {op!r}")
        samples = getattr(peer, op)(int(cmd.get("warmup", 0)), int(cmd.get("iters", 1)))
        out.write(json.dumps({"samples": samples}) + "\n")
        out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="checkout of the official repository")
    ap.add_argument("--config", required=True, help="JSON configuration (see the module docstring)")
    ap.add_argument("--serve", action="store_true", help="build once, then answer JSON commands on stdin (interleaved timing)")
    args = ap.parse_args()
    cfg = json.loads(args.config)
    if cfg["model"] not in BUILDERS:
        raise SystemExit(f"no official peer for model {cfg['model']!r}; peers: {', '.join(BUILDERS)}")
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the official code prints must not corrupt the JSON on stdout
    peer = Peer(cfg, os.path.abspath(args.src))
    if args.serve:
        serve(peer, out)
        return
    result = {"latency_ms": summary(peer.forward(int(cfg["warmup"]), int(cfg["iters"])))}
    if cfg.get("train"):
        result["train_step_ms"] = summary(peer.train(1, max(1, min(int(cfg["iters"]), 5))))
    out.write(json.dumps({**peer.info(), **result}) + "\n")


if __name__ == "__main__":
    main()
