"""PyTorch side of bench/model-step: the same MMIM stage-1 training step, timed on this CPU.

Builds the reference model with the parity generator's modules (libs/model/parity), float32,
and prints one JSON line per configuration: {"name", "threads", "samples_per_s", "ms_per_step"}.
Usage: /usr/bin/python3 bench/model-step/torch_step.py '<json list of configs>' THREADS STEPS
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "libs", "model", "parity"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from generate_fixtures import MMIM  # noqa: E402


def make_batch(c, B, L, Tv, Ta, gen):
    lens = lambda T: torch.randint(1, T + 1, (B,), generator=gen)
    vlen, alen = lens(Tv), lens(Ta)
    ids = torch.randint(1000, c["bert"]["vocab_size"], (B, L), generator=gen)
    mask = torch.zeros(B, L, dtype=torch.long)
    for b in range(B):
        n = int(torch.randint(3, L + 1, (1,), generator=gen))
        mask[b, :n] = 1
    y = torch.rand(B, 1, generator=gen) * 6 - 3
    return dict(
        visual=torch.randn(Tv, B, c["d_vin"], generator=gen),
        acoustic=torch.randn(Ta, B, c["d_ain"], generator=gen),
        vlens=vlen, alens=alen, bert_sent=ids, bert_sent_type=torch.zeros(B, L, dtype=torch.long),
        bert_sent_mask=mask, y=y,
    )


def bench(cfg, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    c = cfg["model"]
    model = MMIM(c).float()
    bert = model.text_enc.bertmodel
    layers = c["bert"]["num_hidden_layers"]
    trainable = cfg.get("trainable_layers")
    freeze = cfg.get("freeze", False)
    for name, p in bert.named_parameters():
        if freeze:
            p.requires_grad_(False)
        elif trainable is not None and trainable < layers:
            keep = any(f"encoder.layer.{i}." in name for i in range(layers - trainable, layers))
            p.requires_grad_(keep)
    params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("mi_")]
    opt = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-4)
    batches = [make_batch(c, cfg["batch"], cfg["text_len"], cfg["tv"], cfg["ta"], gen) for _ in range(2)]
    mem = {"tv": None, "ta": None, "va": None}

    def step(tb):
        nonlocal mem
        model.zero_grad(set_to_none=False)
        lld, nce, preds, pn, H, _ = model(tb["visual"], tb["acoustic"], tb["vlens"], tb["alens"], tb["bert_sent"],
                                          tb["bert_sent_type"], tb["bert_sent_mask"], y=tb["y"], mem=mem)
        loss = F.l1_loss(preds, tb["y"]) + 0.1 * nce - 0.1 * lld
        if not isinstance(H, float):
            loss = loss - 0.1 * H
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        mem = {k: ({"pos": [v["pos"].detach()], "neg": [v["neg"].detach()]} if v else None) for k, v in pn.items()}

    step(batches[0])  # warm-up, fills the entropy memory
    start = time.perf_counter()
    for i in range(steps):
        step(batches[(i + 1) % 2])
    elapsed = (time.perf_counter() - start) / steps
    return {"name": cfg["name"], "threads": threads, "ms_per_step": elapsed * 1000, "samples_per_s": cfg["batch"] / elapsed}


def main():
    configs = json.loads(sys.argv[1])
    threads = int(sys.argv[2])
    steps = int(sys.argv[3])
    for cfg in configs:
        print(json.dumps(bench(cfg, threads, steps)), flush=True)


if __name__ == "__main__":
    main()
