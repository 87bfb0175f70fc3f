"""Compare dump.ts outputs with torchvision's video models / the official TSM `TSN` (float64, eval).
Usage: python3 check.py DIR TSM_SRC   (TSM_SRC = a checkout of mit-han-lab/temporal-shift-module)"""
import contextlib, io, json, struct, sys
import numpy as np
import torch

DIR, TSM_SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, TSM_SRC)
torch.set_grad_enabled(False)


def load_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header, base, out = json.loads(b[8:8 + n]), 8 + n, {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = torch.from_numpy(np.frombuffer(b[base + s:base + e], dtype=dt).reshape(v["shape"]).copy())
    return out


def build(model, o):
    if model in ("r3d", "mc3", "r2plus1d"):
        from torchvision.models import video
        return getattr(video, f"{model}_{o.get('depth', 18)}")(num_classes=o["numClasses"])
    from ops.models import TSN
    with contextlib.redirect_stdout(io.StringIO()):
        return TSN(o["numClasses"], o["frames"], "RGB", base_model=f"resnet{o.get('depth', 50)}", dropout=o.get("dropout", 0.5),
                   is_shift=model == "tsm", shift_div=o.get("shiftDiv", 8), shift_place=o.get("shiftPlace", "blockres"),
                   pretrain="none", partial_bn=False, print_spec=False)


ok = True
for tag in ["r3d", "mc3", "r2plus1d", "tsm_block18", "tsm101", "tsn34"]:
    j = json.load(open(f"{DIR}/{tag}.json"))
    m = build(j["model"], j["options"])
    sd = load_safetensors(f"{DIR}/{tag}.safetensors")
    same_order = list(sd.keys()) == list(m.state_dict().keys())
    m.load_state_dict(sd, strict=True)
    m = m.double()
    m.eval()  # TSN.eval() returns None
    x = torch.from_numpy(np.fromfile(f"{DIR}/{tag}.in.f32", dtype=np.float32).reshape(j["shape"]).astype(np.float64))
    ref = m(x).numpy()
    rel = np.abs(ref - np.array(j["out"]).reshape(j["outShape"])).max() / np.abs(ref).max()
    ok &= same_order and rel <= 1e-4
    print(f"{'PASS' if same_order and rel <= 1e-4 else 'FAIL'} {tag} key_order_same={same_order} max_rel_err={rel:.2e}")
sys.exit(0 if ok else 1)
