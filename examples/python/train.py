#!/usr/bin/env python3
"""A program trainable for Sweeper: softmax regression in plain Python (no packages needed).

Sweeper runs it once per trial (see README.md next to it) and reads JSON lines on stdout:
  {"step": 12, "loss": 0.93, "grad_norm": 1.4, "lr": 0.1}              every training step (stability monitor)
  {"epoch": 2, "val_accuracy": 0.81, ..., "checkpoint": "ckpt_2.json"}  every epoch (metrics, scheduler)
Any other output is copied to the trial's log. The trial's settings arrive as arguments and SWEEPER_* variables.
"""
import argparse
import gzip
import json
import math
import os
import random
import struct
import sys
import time

CLASSES = 10


def emit(**fields):
    # json.dumps writes NaN as a bare NaN token, which Sweeper accepts: a diverged loss reaches its monitor.
    print(json.dumps(fields), flush=True)


def synthetic_data(n, features=16, seed=0):
    """n samples of CLASSES Gaussian blobs; the same for every trial (fixed seed), so trials differ only by settings."""
    rng = random.Random(seed)
    centres = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(CLASSES)]
    data = []
    for _ in range(n):
        label = rng.randrange(CLASSES)
        data.append(([c + rng.gauss(0, 1.5) for c in centres[label]], label))
    return data


def fashion_mnist(folder, prefix, n):
    """The first n images of an idx file pair (e.g. /usr/share/datasets/fashion-mnist), 4x4-average-pooled to 7x7."""
    def read(name):
        path = os.path.join(folder, name)
        return gzip.open(path, "rb") if os.path.exists(path) else open(path[:-3], "rb")
    with read(f"{prefix}-images-idx3-ubyte.gz") as images, read(f"{prefix}-labels-idx1-ubyte.gz") as labels:
        _, count, rows, cols = struct.unpack(">IIII", images.read(16))
        labels.read(8)
        data = []
        for _ in range(min(n, count)):
            pixels = images.read(rows * cols)
            pooled = [sum(pixels[(r + i) * cols + c + j] for i in range(4) for j in range(4)) / (16 * 255.0)
                      for r in range(0, rows, 4) for c in range(0, cols, 4)]
            data.append((pooled, labels.read(1)[0]))
        return data


def forward(weights, x):
    """Class probabilities of softmax regression (weights: one row per class, bias last)."""
    logits = [sum(w * v for w, v in zip(row, x)) + row[-1] for row in weights]
    top = max(logits)
    exps = [math.exp(z - top) for z in logits]
    total = sum(exps)
    return [e / total for e in exps]


def evaluate(weights, data):
    loss, correct = 0.0, 0
    for x, y in data:
        p = forward(weights, x)
        loss -= math.log(max(p[y], 1e-12))
        correct += max(range(CLASSES), key=p.__getitem__) == y
    return loss / len(data), correct / len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("SWEEPER_EPOCHS", "3")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SWEEPER_SEED", "0")))
    ap.add_argument("--data", help="a folder of Fashion-MNIST idx files (e.g. /usr/share/datasets/fashion-mnist); "
                                   "absent: synthetic data")
    ap.add_argument("--train-size", type=int, default=640)
    # Misbehaviour, for Sweeper's tests and for trying out its crash and stability handling:
    ap.add_argument("--crash-at-epoch", type=int, help="exit 3 when epoch N starts (once per trial)")
    ap.add_argument("--nan-at-step", type=int, help="report a NaN loss at global step N ...")
    ap.add_argument("--nan-if-lr-above", type=float, default=0.0, help="... when --lr is above this")
    ap.add_argument("--sleep-per-step", type=float, default=0.0, help="seconds to sleep after every step")
    args = ap.parse_args()

    if args.data and os.path.isdir(args.data):
        train = fashion_mnist(args.data, "train", args.train_size + 200)
        train, val = train[:args.train_size], train[args.train_size:]
        test = fashion_mnist(args.data, "t10k", 200)
    else:
        if args.data:
            print(f"no data folder {args.data}: using synthetic data")
        everything = synthetic_data(args.train_size + 400)
        train, val, test = everything[:args.train_size], everything[-400:-200], everything[-200:]

    features = len(train[0][0])
    rng = random.Random(args.seed)
    weights = [[rng.gauss(0, 0.01) for _ in range(features + 1)] for _ in range(CLASSES)]
    step, first_epoch = 0, 1

    checkpoint_dir = os.environ.get("SWEEPER_CHECKPOINT_DIR")
    resume = os.environ.get("SWEEPER_RESUME_CHECKPOINT")
    if resume:  # continue exactly where the checkpoint left off: weights, step count, random state
        with open(resume) as f:
            state = json.load(f)
        weights, step = state["weights"], state["step"]
        version, internal, gauss = state["rng"]
        rng.setstate((version, tuple(internal), gauss))
        first_epoch = int(os.environ["SWEEPER_RESUME_EPOCH"]) + 1
        print(f"resumed after epoch {first_epoch - 1} from {resume}")

    for epoch in range(first_epoch, args.epochs + 1):
        if args.crash_at_epoch == epoch:
            work = os.environ.get("SWEEPER_WORK_DIR")
            marker = os.path.join(os.path.dirname(work), "crashed-once") if work else None
            if marker is None or not os.path.exists(marker):
                if marker:
                    open(marker, "w").close()
                print(f"crashing at epoch {epoch} as asked (--crash-at-epoch)", file=sys.stderr)
                sys.exit(3)

        order = list(range(len(train)))
        rng.shuffle(order)  # a fresh permutation per epoch: a resumed run shuffles exactly as an uninterrupted one
        epoch_loss = 0.0
        for start in range(0, len(train), args.batch_size):
            batch = [train[i] for i in order[start:start + args.batch_size]]
            grads = [[0.0] * (features + 1) for _ in range(CLASSES)]
            loss = 0.0
            for x, y in batch:
                p = forward(weights, x)
                loss -= math.log(max(p[y], 1e-12))
                for k in range(CLASSES):
                    g = (p[k] - (k == y)) / len(batch)
                    row = grads[k]
                    for i, v in enumerate(x):
                        row[i] += g * v
                    row[-1] += g
            loss /= len(batch)
            for row, grad in zip(weights, grads):
                for i, g in enumerate(grad):
                    row[i] -= args.lr * g
            step += 1
            if args.nan_at_step == step and args.lr > args.nan_if_lr_above:
                loss = float("nan")  # what a diverged run reports; a lower learning rate avoids it
            grad_norm = math.sqrt(sum(g * g for grad in grads for g in grad))
            emit(step=step, loss=loss, grad_norm=grad_norm, lr=args.lr)
            epoch_loss += loss * len(batch)
            if args.sleep_per_step:
                time.sleep(args.sleep_per_step)

        val_loss, val_accuracy = evaluate(weights, val)
        test_loss, test_accuracy = evaluate(weights, test)
        line = dict(epoch=epoch, train_loss=epoch_loss / len(train), val_loss=val_loss, val_accuracy=val_accuracy,
                    test_loss=test_loss, test_accuracy=test_accuracy, lr=args.lr)
        if checkpoint_dir:  # written completely (temp file + rename) before its name is printed
            name = f"ckpt_{epoch}.json"
            version, internal, gauss = rng.getstate()
            with open(os.path.join(checkpoint_dir, name + ".tmp"), "w") as f:
                json.dump({"weights": weights, "step": step, "rng": [version, list(internal), gauss]}, f)
            os.replace(os.path.join(checkpoint_dir, name + ".tmp"), os.path.join(checkpoint_dir, name))
            line["checkpoint"] = name
        emit(**line)


if __name__ == "__main__":
    main()
