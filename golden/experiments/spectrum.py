"""Singular-value spectrum of a batch gradient, ReLU vs sigmoid (SBE paper Fig. 1).

For each activation, a network is trained with MBGD until its test accuracy reaches
``TARGET_ACCURACY`` (the paper: "trained on MNIST to 90% accuracy for the test set") or the
epoch budget runs out. Then the batch gradient of every layer over one large batch (the whole
training set, up to 10,000 samples as in the paper) is decomposed and its singular values are
normalized to sum to one (the paper's ``sum_p sigma_p = 1``). Reported per layer: the normalized
values ``sigma_p`` and their cumulative sums at ``k = 1, 2, 3, 5, 10``.

The paper's network is 728x256x128x10 and it plots the middle layer; the default here is
784-256-128-10 on the MNIST subset so that the same layer can be compared (``--hidden`` changes
it; every layer is reported).
"""

from __future__ import annotations

import numpy as np

from ..mlp import MLP, train
from .runner import markdown_table

NAME = "spectrum"
HELP = "share of the first k singular values of a batch gradient, ReLU vs sigmoid (SBE Fig. 1)"
DEFAULTS = {"epochs": 30, "seeds": 1, "batch": 64, "hidden": (256, 128)}
TARGET_ACCURACY = 0.90
BIG_BATCH = 10_000
KS = (1, 2, 3, 5, 10)
ACTIVATIONS = ("relu", "sigmoid")
SHOWN = 20  # singular values kept in the JSON per layer


def total_samples(settings):
    return len(ACTIVATIONS) * settings.seeds * settings.epochs * len(settings.dataset().y_train)


def _train_to_target(settings, activation, seed, progress):
    """Train with MBGD one epoch at a time until the target test accuracy; return the model."""
    data = settings.dataset()
    model = MLP(settings.sizes(), activation=activation, seed=seed)
    epochs = 0
    accuracy = model.accuracy(data.x_test, data.y_test)
    while epochs < settings.epochs and accuracy < TARGET_ACCURACY:
        hist = train(model, data, "mbgd", lr=settings.lr, batch_size=settings.batch, epochs=1,
                     seed=seed * 1000 + epochs, progress=progress)
        accuracy = hist.final["test_accuracy"]
        epochs += 1
    progress((settings.epochs - epochs) * len(data.y_train))  # the budget not needed
    return model, epochs, accuracy


def layer_spectra(model, x, y):
    """Normalized singular values (sum 1) of each layer's mean gradient over ``(x, y)``."""
    _, xs, deltas = model.backward(x, y)
    out = []
    for xl, dl in zip(xs, deltas):
        s = np.linalg.svd(dl.T @ xl / len(x), compute_uv=False)
        out.append(s / s.sum())
    return out


def run(settings, progress):
    data = settings.dataset()
    n = min(BIG_BATCH, len(data.y_train))
    results = []
    for activation in ACTIVATIONS:
        for seed in range(settings.seeds):
            model, epochs, accuracy = _train_to_target(settings, activation, seed, progress)
            spectra = layer_spectra(model, data.x_train[:n], data.y_train[:n])
            layers = []
            for (n_in, n_out), s in zip(model.layer_shapes, spectra):
                cum = np.cumsum(s)
                layers.append({"n_in": n_in, "n_out": n_out, "sigma": s[:SHOWN].tolist(),
                               "cumulative": {str(k): float(cum[min(k, len(s)) - 1])
                                              for k in KS}})
            results.append({"activation": activation, "seed": seed, "epochs": epochs,
                            "test_accuracy": accuracy, "batch": n, "layers": layers})
    return {"target_accuracy": TARGET_ACCURACY, "runs": results}


def table(doc):
    rows = []
    for r in doc["results"]["runs"]:
        for i, layer in enumerate(r["layers"]):
            rows.append([r["activation"], r["seed"], f"{i} ({layer['n_in']}->{layer['n_out']})",
                         r["epochs"], f"{r['test_accuracy']:.3f}",
                         *(f"{layer['cumulative'][str(k)]:.3f}" for k in KS)])
    head = (f"Share of the first k normalized singular values of the batch gradient "
            f"(batch = {doc['results']['runs'][0]['batch']} samples, {doc['data']['name']}, "
            f"MBGD-trained to test accuracy {doc['results']['target_accuracy']} or "
            f"{doc['settings']['epochs']} epochs).\n\n")
    return head + markdown_table(["activation", "seed", "layer", "epochs", "test acc",
                                  *(f"k<={k}" for k in KS)], rows)


def plot(doc):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for r in doc["results"]["runs"]:
        if r["seed"] != 0:
            continue
        for i, layer in enumerate(r["layers"]):
            s = np.array(layer["sigma"])
            label = f"{r['activation']} layer {i} ({layer['n_in']}->{layer['n_out']})"
            style = "-" if r["activation"] == "relu" else "--"
            p = np.arange(1, len(s) + 1)
            ax1.plot(p, s, style, marker=".", label=label)
            ax2.plot(p, np.cumsum(s), style, marker=".", label=label)
    ax1.set_xlabel("singular index p")
    ax1.set_ylabel("normalized singular value")
    ax2.set_xlabel("k")
    ax2.set_ylabel("cumulative share of the first k")
    ax2.set_ylim(0, 1.02)
    ax1.legend(fontsize=7)
    fig.suptitle(f"SBE Fig. 1: batch-gradient spectrum, {doc['data']['name']}")
    fig.tight_layout()
    return fig
