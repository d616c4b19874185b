"""The book's MultiLayerNet with Adam (Deep Learning from Scratch, ch. 6) in NumPy,
timed per iteration (gradient + update) for `npm run bench` (bench/mnist.ts).

    /usr/bin/python3 bench/mnist_numpy.py DIR ITERATIONS REPEATS

DIR holds what bench/mnist.ts wrote: meta.json (layer sizes, batch size, sample
count), images.f32 (the engine's training split of the MNIST digits of the npm
package `mnist`, float32, 784 per sample, in the engine's split order), labels.u8,
w0.f64 (the engine's initial parameters, its flat layout W1, b1, W2, b2, ...) and
batches.i32 (the sample positions of every minibatch, drawn by the engine). So both
sides train the same network from the same start on the same batches.

The formulation is the book's (common/layers.py, common/multi_layer_net.py,
common/optimizer.py): Affine, Relu and SoftmaxWithLoss layers, forward then backward
through every layer, Adam updating each array in place. Like the book's
load_mnist(normalize=True), the images are float32; the parameters are float64
(np.random.randn, the book) or float32. Two variants:

  book  the book's code as it is, which also computes dX of the first Affine layer
        (128 x 100 x 784, a product nobody uses);
  lean  the same without that product (what the engine computes).

The weight-decay terms are left out, as the engine leaves them out at lambda = 0 (the
book adds 0.5 * 0 * sum(W**2) to the loss and 0 * W to each gradient).

The caller fixes the threads (OPENBLAS_NUM_THREADS=1 and the like). Prints one JSON
object: numpy's version, the BLAS (threadpoolctl when installed, else
numpy.show_config's text), and for each dtype and variant the ms per iteration of
each repeat, and the final training loss (a check that it trains).
"""
import contextlib
import io
import json
import os
import sys
import time

import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = None
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout, need_dx=True):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T) if need_dx else None


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        batch_size = self.y.shape[0]
        return -np.sum(np.log(self.y[np.arange(batch_size), t] + 1e-7)) / batch_size

    def backward(self):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


class MultiLayerNet:
    """The book's net: Affine, Relu, ..., Affine, SoftmaxWithLoss; params W1, b1, ..."""

    def __init__(self, sizes, flat, dtype, lean):
        self.params = {}
        offset = 0
        for l in range(1, len(sizes)):
            n_in, n_out = sizes[l - 1], sizes[l]
            W = flat[offset:offset + n_in * n_out].reshape(n_in, n_out)
            offset += n_in * n_out
            b = flat[offset:offset + n_out]
            offset += n_out
            self.params[f"W{l}"] = np.array(W, dtype=dtype)
            self.params[f"b{l}"] = np.array(b, dtype=dtype)
        self.affines = [Affine(self.params[f"W{l}"], self.params[f"b{l}"]) for l in range(1, len(sizes))]
        self.layers = []
        for i, affine in enumerate(self.affines):
            self.layers.append(affine)
            if i < len(self.affines) - 1:
                self.layers.append(Relu())
        self.last_layer = SoftmaxWithLoss()
        self.lean = lean

    def loss(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        return self.last_layer.forward(x, t)

    def gradient(self, x, t):
        loss = self.loss(x, t)
        dout = self.last_layer.backward()
        for i, layer in enumerate(reversed(self.layers)):
            if self.lean and i == len(self.layers) - 1:
                layer.backward(dout, need_dx=False)
            else:
                dout = layer.backward(dout)
        grads = {}
        for l, affine in enumerate(self.affines, start=1):
            grads[f"W{l}"], grads[f"b{l}"] = affine.dW, affine.db
        return loss, grads


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return {"threadpoolctl": threadpool_info()}
    except ImportError:
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            np.show_config()
        return {"show_config": text.getvalue()}


def main():
    folder, iterations, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    sizes, batch, samples = meta["sizes"], meta["batch"], meta["samples"]
    images = np.fromfile(os.path.join(folder, "images.f32"), dtype=np.float32).reshape(samples, sizes[0])
    labels = np.fromfile(os.path.join(folder, "labels.u8"), dtype=np.uint8).astype(np.int64)
    w0 = np.fromfile(os.path.join(folder, "w0.f64"), dtype=np.float64)
    batches = np.fromfile(os.path.join(folder, "batches.i32"), dtype=np.int32).reshape(-1, batch)
    warmup = 20
    if len(batches) < warmup + iterations:
        raise SystemExit(f"mnist_numpy.py: {len(batches)} batches, need {warmup + iterations}")

    results = []
    for dtype in (np.float64, np.float32):
        for variant in ("book", "lean"):
            times = []
            loss = float("nan")
            for _ in range(repeats):
                net = MultiLayerNet(sizes, w0, dtype, lean=variant == "lean")
                optimizer = Adam()

                def step(i):
                    mask = batches[i]
                    x_batch, t_batch = images[mask], labels[mask]
                    loss, grads = net.gradient(x_batch, t_batch)
                    optimizer.update(net.params, grads)
                    return loss

                for i in range(warmup):
                    step(i)
                started = time.perf_counter()
                for i in range(warmup, warmup + iterations):
                    loss = step(i)
                times.append((time.perf_counter() - started) * 1000 / iterations)
            results.append({"dtype": np.dtype(dtype).name, "variant": variant, "ms": times, "loss": float(loss)})

    print(json.dumps({"numpy": np.__version__, "python": sys.version.split()[0], "blas": blas_info(), "results": results}))


if __name__ == "__main__":
    main()
