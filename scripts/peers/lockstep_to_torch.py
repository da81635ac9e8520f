#!/usr/bin/env python3
"""Load a Lockstep ResNet-20 (or LeNet-5) checkpoint exported as safetensors into the peer's
PyTorch definition (torch_cnn.py, next to this file) and print its test predictions.

  /usr/bin/python3 lockstep_to_torch.py --model resnet20 --weights W.safetensors --cifar DIR

Lockstep's names map onto the peer's nn.Sequential: conv1/bn1 -> 0/1, res<i> -> block 2+i
(conv1/bn1/conv2/bn2 -> c1/b1/c2/b2, shortcut/conv|bn -> short.0|1), logits -> 14 (resnet20);
for lenet5 conv1, conv2, dense1, dense2, logits -> 0, 3, 7, 9, 11. Convolution filters are
HWIO in Lockstep and OIHW in PyTorch; dense weights are [in, out] vs [out, in]; LeNet-5's
flatten order is HWC vs CHW, so dense1's rows are permuted. Batch norm: gamma/beta/moving_mean/
moving_variance -> weight/bias/running_mean/running_var. Reads test_batch.bin (CIFAR-10 binary)
or an MNIST-format IDX image file, and prints one JSON line {"predictions": [...], "logits": [...]}.
Reads safetensors with json + numpy only (no safetensors package needed).
"""
import argparse, json, os, struct, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_cnn  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def torch_name(model, name):
    parts = name.split("/")
    leaf = {"weights": "weight", "biases": "bias", "gamma": "weight", "beta": "bias",
            "moving_mean": "running_mean", "moving_variance": "running_var"}[parts[-1]]
    if model == "lenet5":
        return f"{ {'conv1': 0, 'conv2': 3, 'dense1': 7, 'dense2': 9, 'logits': 11}[parts[0]] }.{leaf}"
    if parts[0] == "conv1":
        return f"0.{leaf}"
    if parts[0] == "bn1":
        return f"1.{leaf}"
    if parts[0] == "logits":
        return f"14.{leaf}"
    block = 2 + int(parts[0][3:])
    sub = {"conv1": "c1", "bn1": "b1", "conv2": "c2", "bn2": "b2"}
    if parts[1] == "shortcut":
        return f"{block}.short.{0 if parts[2] == 'conv' else 1}.{leaf}"
    return f"{block}.{sub[parts[1]]}.{leaf}"


def convert(model, tensors):
    sd = {}
    for name, t in tensors.items():
        if t.ndim == 4:  # HWIO -> OIHW
            t = t.transpose(3, 2, 0, 1)
        elif t.ndim == 2:  # [in, out] -> [out, in]
            if model == "lenet5" and name == "dense1/weights":
                # rows are HWC (5, 5, 16) in Lockstep, CHW in torch's Flatten
                t = t.reshape(5, 5, 16, -1).transpose(2, 0, 1, 3).reshape(400, -1)
            t = t.T
        sd[torch_name(model, name)] = torch.from_numpy(np.ascontiguousarray(t))
    return sd


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["lenet5", "resnet20"], required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--cifar")
    p.add_argument("--idx")
    a = p.parse_args()
    net = torch_cnn.resnet20() if a.model == "resnet20" else torch_cnn.lenet5()
    missing, unexpected = net.load_state_dict(convert(a.model, read_safetensors(a.weights)), strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    if a.cifar:
        raw = np.fromfile(os.path.join(a.cifar, "test_batch.bin"), dtype=np.uint8).reshape(-1, 3073)
        x = raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255)
    else:
        raw = np.fromfile(a.idx, dtype=np.uint8)[16:]
        x = raw.reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255)
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(x))
    print(json.dumps({"predictions": logits.argmax(1).tolist(), "logits": logits.flatten().tolist()}))


if __name__ == "__main__":
    main()
