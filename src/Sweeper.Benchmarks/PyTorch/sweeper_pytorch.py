"""PyTorch side of `sweeper bench ... --compare-pytorch`: the same architectures as src/Sweeper.Training/Models.

Subcommands (each prints one JSON object on its last stdout line):
  probe                      torch version, threads
  params  --model M --width W [--stem-stride S] [--classes K] [--input-channels C]
  step    --model M --width W --size S --batch B --threads T --warmup N --rounds N [--methods float,fq_minmax,fq_learnable,float_cl]
                             (float_cl: the float model and input in PyTorch's channels-last memory format)
  trial   --data DIR --train-subset N --validation N --test-subset N --epochs E --batch B --lr LR --momentum M
          --weight-decay WD --model M --width W --seed S [--threads T] [--channels-last]

Models (match the C#, checked by parameter counts on both sides): every convolution is bias-free and followed by
BatchNorm2d (eps 1e-5, momentum 0.1) and ReLU (V1) / ReLU6 (V2; none after the projection); the classifier is a
Linear with bias after global average pooling; the stem has stride 1 for 28x28 inputs.
"""
import argparse
import gzip
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def scale_channels(c, width):
    # MobileNetV1.ScaleChannels: max(8, round(c * width)) with halves away from zero
    return max(8, int(math.floor(c * width + 0.5)))


def make_divisible(value, divisor=8):
    # MobileNetV2.MakeDivisible
    rounded = max(divisor, int(value + divisor / 2.0) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class FakeQuant(nn.Module):
    """Per-channel 4-bit symmetric fake-quant of a weight through PyTorch's fused kernels."""

    def __init__(self, out_channels, mode, bits=4):
        super().__init__()
        self.mode = mode
        self.qmin, self.qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        self.register_buffer("zero_point", torch.zeros(out_channels, dtype=torch.int32))
        if mode == "fq_learnable":
            self.scale = nn.Parameter(torch.full((out_channels,), 0.05))
            self.zp_float = nn.Parameter(torch.zeros(out_channels), requires_grad=False)

    def forward(self, w):
        if self.mode == "fq_minmax":
            with torch.no_grad():
                amax = w.detach().abs().flatten(1).amax(1).clamp_min(1e-8)
                scale = amax / self.qmax
            return torch.fake_quantize_per_channel_affine(w, scale, self.zero_point, 0, self.qmin, self.qmax)
        return torch._fake_quantize_learnable_per_channel_affine(w, self.scale, self.zp_float, 0, self.qmin, self.qmax, 1.0)


class ConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, act="relu", quant=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act
        self.fq = FakeQuant(cout, quant) if quant else None

    def forward(self, x):
        w = self.conv.weight if self.fq is None else self.fq(self.conv.weight)
        y = self.bn(F.conv2d(x, w, None, self.conv.stride, self.conv.padding, 1, self.conv.groups))
        if self.act == "relu":
            return F.relu(y, inplace=True)
        if self.act == "relu6":
            return F.relu6(y, inplace=True)
        return y


class MobileNetV1(nn.Module):
    BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
              (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, width, in_ch=1, classes=10, stem_stride=1, quant=None):
        super().__init__()
        c = scale_channels(32, width)
        self.stem = ConvBn(in_ch, c, 3, stem_stride)  # first layer stays float
        layers = []
        for out, s in self.BLOCKS:
            n = scale_channels(out, width)
            layers += [ConvBn(c, c, 3, s, groups=c, quant=quant), ConvBn(c, n, 1, quant=quant)]
            c = n
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)  # last layer stays float

    def forward(self, x):
        x = self.features(self.stem(x))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t, quant=None):
        super().__init__()
        hidden = cin * t
        self.expand = None if t == 1 else ConvBn(cin, hidden, 1, act="relu6", quant=quant)
        self.dw = ConvBn(hidden, hidden, 3, stride, groups=hidden, act="relu6", quant=quant)
        self.project = ConvBn(hidden, cout, 1, act=None, quant=quant)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return y.add_(x) if self.residual else y


class MobileNetV2(nn.Module):
    STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, width, in_ch=1, classes=10, stem_stride=1, quant=None):
        super().__init__()
        c = make_divisible(32 * width)
        self.stem = ConvBn(in_ch, c, 3, stem_stride, act="relu6")
        blocks = []
        for t, ch, n, s in self.STAGES:
            out = make_divisible(ch * width)
            for i in range(n):
                blocks.append(InvertedResidual(c, out, s if i == 0 else 1, t, quant))
                c = out
        self.features = nn.Sequential(*blocks)
        head = make_divisible(1280 * width) if width > 1 else 1280
        self.head = ConvBn(c, head, 1, act="relu6", quant=quant)
        self.classifier = nn.Linear(head, classes)

    def forward(self, x):
        x = self.head(self.features(self.stem(x)))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


def build(model, width, in_ch=1, classes=10, stem_stride=1, quant=None):
    if model == "mobilenet_v1":
        return MobileNetV1(width, in_ch, classes, stem_stride, quant)
    if model == "mobilenet_v2":
        return MobileNetV2(width, in_ch, classes, stem_stride, quant)
    raise SystemExit("unknown model " + model)


def count(model):
    # the model's own parameters, without the fake-quant scales (the C# side counts the float model)
    return sum(p.numel() for n, p in model.named_parameters() if ".fq." not in n)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(obj):
    print(json.dumps(obj), flush=True)


def cmd_probe(a):
    emit({"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available()})


def cmd_params(a):
    m = build(a.model, a.width, a.input_channels, a.classes, a.stem_stride)
    emit({"model": a.model, "width": a.width, "parameters": count(m)})


def cmd_step(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.randn(a.batch, 1, a.size, a.size)
    y = torch.randint(0, 10, (a.batch,))
    methods = [m for m in a.methods.split(",") if m]
    if "float" not in methods:
        methods.insert(0, "float")
    x_cl = x.contiguous(memory_format=torch.channels_last)
    runs = []
    for m in methods:
        torch.manual_seed(1)
        model = build(a.model, a.width, quant=None if m in ("float", "float_cl") else m)
        if m == "float_cl":  # PyTorch's channels-last recipe: the model's weights and the input
            model = model.to(memory_format=torch.channels_last)
        model.train()
        opt = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9, weight_decay=5e-5)
        runs.append((m, model, opt))

    def step(model, opt, m):
        opt.zero_grad()
        loss = F.cross_entropy(model(x_cl if m == "float_cl" else x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for m, model, opt in runs:
        for _ in range(a.warmup):
            step(model, opt, m)
    wall = {m: [] for m, _, _ in runs}
    cpu = {m: [] for m, _, _ in runs}
    for r in range(a.rounds):
        for k in range(len(runs)):
            m, model, opt = runs[(k + r) % len(runs)]
            c0, t0 = time.process_time(), time.perf_counter()
            step(model, opt, m)
            wall[m].append((time.perf_counter() - t0) * 1000)
            cpu[m].append((time.process_time() - c0) * 1000)
    emit({"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": count(runs[0][1]),
          "wall_ms": wall, "cpu_ms": cpu})


def read_idx(path, limit=None):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    return arr if limit is None else arr[:limit]


def idx_file(folder, name):
    gz = os.path.join(folder, name + ".gz")
    return gz if os.path.exists(gz) else os.path.join(folder, name)


def cmd_trial(a):
    start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    mean, std = 0.2860, 0.3530  # FashionMnist.Mean / Std
    train_x = read_idx(idx_file(a.data, "train-images-idx3-ubyte"), a.train_subset)
    train_y = read_idx(idx_file(a.data, "train-labels-idx1-ubyte"), a.train_subset)
    test_x = read_idx(idx_file(a.data, "t10k-images-idx3-ubyte"), a.test_subset)
    test_y = read_idx(idx_file(a.data, "t10k-labels-idx1-ubyte"), a.test_subset)
    norm = lambda im: torch.from_numpy(((im.astype(np.float32) / 255.0 - mean) / std)[:, None, :, :].copy())
    images, labels = norm(train_x), torch.from_numpy(train_y.astype(np.int64))
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(len(images), generator=g)
    val_idx, train_idx = perm[:a.validation].sort().values, perm[a.validation:].sort().values
    tx, ty = images[train_idx], labels[train_idx]
    vx, vy = images[val_idx], labels[val_idx]
    sx, sy = norm(test_x), torch.from_numpy(test_y.astype(np.int64))
    load_s = time.perf_counter() - start

    model = build(a.model, a.width)
    params = count(model)
    if a.channels_last:  # PyTorch's recipe: the weights and every batch in its channels-last memory format
        model = model.to(memory_format=torch.channels_last)
        vx, sx = (t.contiguous(memory_format=torch.channels_last) for t in (vx, sx))
    opt = torch.optim.SGD(model.parameters(), a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    steps = len(tx) // a.batch
    total = steps * a.epochs

    def evaluate(x, y):
        model.eval()
        loss, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(x), 200):
                logits = model(x[i:i + 200])
                loss += F.cross_entropy(logits, y[i:i + 200], reduction="sum").item()
                correct += int((logits.argmax(1) == y[i:i + 200]).sum())
        model.train()
        return loss / len(x), correct / len(x)

    epochs = []
    for e in range(a.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(tx), generator=g)
        for s in range(steps):
            lr = 0.5 * a.lr * (1 + math.cos(math.pi * (e * steps + s) / total))  # cosine, as LearningRateSchedule
            for group in opt.param_groups:
                group["lr"] = lr
            idx = order[s * a.batch:(s + 1) * a.batch]
            xb, yb = tx[idx], ty[idx]
            if a.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss.item()
            (logits.argmax(1) == yb).sum().item()
        train_s = time.perf_counter() - t0
        val = evaluate(vx, vy)
        test = evaluate(sx, sy)
        epochs.append({"seconds": time.perf_counter() - t0, "train_seconds": train_s, "val_accuracy": val[1], "test_accuracy": test[1]})
    emit({"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": params, "load_seconds": load_s,
          "epochs": epochs, "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()})


def main(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe")
    q = sub.add_parser("params")
    q.add_argument("--model", required=True)
    q.add_argument("--width", type=float, required=True)
    q.add_argument("--stem-stride", type=int, default=1)
    q.add_argument("--classes", type=int, default=10)
    q.add_argument("--input-channels", type=int, default=1)
    s = sub.add_parser("step")
    s.add_argument("--model", default="mobilenet_v2")
    s.add_argument("--width", type=float, default=0.5)
    s.add_argument("--size", type=int, default=28)
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--warmup", type=int, default=2)
    s.add_argument("--rounds", type=int, default=7)
    s.add_argument("--methods", default="float,fq_minmax,fq_learnable,float_cl")
    t = sub.add_parser("trial")
    t.add_argument("--data", required=True)
    t.add_argument("--train-subset", type=int, required=True)
    t.add_argument("--validation", type=int, default=0)
    t.add_argument("--test-subset", type=int, required=True)
    t.add_argument("--epochs", type=int, required=True)
    t.add_argument("--batch", type=int, required=True)
    t.add_argument("--lr", type=float, required=True)
    t.add_argument("--momentum", type=float, default=0.0)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--model", required=True)
    t.add_argument("--width", type=float, required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--channels-last", action="store_true")
    a = p.parse_args(argv)
    {"probe": cmd_probe, "params": cmd_params, "step": cmd_step, "trial": cmd_trial}[a.cmd](a)


if __name__ == "__main__":
    main(sys.argv[1:])
