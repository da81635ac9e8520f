#!/usr/bin/env python3
"""Peer benchmark: float32 matrix products C = A.B with PyTorch on the CPU, for the bench's
"GEMM throughput" section (src/main/bench/gemm-rate.ts), which times our own GEMM kernel on the
same shapes. A compute-bound network (ResNet-20) runs at about the ratio of these two rates.

Needs Debian's packages: apt-get install -y python3-torch libopenblas0-pthread
Run with Debian's interpreter: /usr/bin/python3 torch_gemm.py --shapes 8192x64x576,6400x16x150

Each shape is MxNxK (A is MxK, B is KxN). Prints one JSON line: the torch version, the CPU
capability torch reports, and per shape the best and median GMAC/s (M.N.K multiply-adds per
second, in billions) over --reps timed products after a warm-up. The product is checked against
float64 first, so a broken BLAS fails instead of being timed.
"""
import argparse, json, re, time

import torch


def capability():
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", required=True)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    rates = []
    for s in a.shapes.split(","):
        m, n, k = (int(v) for v in s.split("x"))
        x = torch.rand(m, k)
        w = torch.rand(k, n)
        c = torch.empty(m, n)
        torch.mm(x, w, out=c)
        ref = x.double() @ w.double()
        err = (c.double() - ref).abs().max().item()
        if not err <= 1e-4 * k:
            raise SystemExit(f"torch_gemm: {s}: max error {err} against float64")
        for _ in range(3):
            torch.mm(x, w, out=c)
        ts = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            torch.mm(x, w, out=c)
            ts.append(time.perf_counter() - t0)
        ts.sort()
        macs = m * n * k
        rates.append({"shape": [m, n, k], "best": macs / ts[0] / 1e9, "median": macs / ts[len(ts) // 2] / 1e9})
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "capability": capability(), "threads": a.threads, "rates": rates}))


if __name__ == "__main__":
    main()
