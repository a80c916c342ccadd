"""Golden-model experiments: the papers' figures and tables re-measured on the NumPy MLP.

==============  ===========================================================================
name            what it measures
==============  ===========================================================================
spectrum        share of the first k singular values of a batch gradient, ReLU vs sigmoid
                (SBE paper Fig. 1)
convergence     SBE singular vector and value error inside a batch, batch 32 vs 1024 (Fig. 3)
curves          test error and train loss vs epochs and matrix updates, SGD/MBGD/SVD/SBE
                (Fig. 4)
batch-sweep     epochs and matrix updates to reach train loss 0.1 and 0.01 vs batch size
                (Fig. 5)
rank-table      test accuracy vs rank, SBPCA fixed vs variable block (AAAI Table 1)
variants        every hardware option of SBPCA alone and combined, with cost counts
baselines       all registered rules side by side: accuracy, matrix updates, memory
quantization    the streaming-PCA unit's fixed-point model vs its float variant: update
                error, orthonormality over a long stream, MNIST accuracy per word width
ns-steps        Newton-Schulz steps of the unit: orthonormality after every sample, update
                quality, accuracy, k x k MACs per sample
devices         update schemes on the same crossbar device models: SGD pulsed per sample,
                MBGD cell by cell, SVD rank k, the unit (float and fixed point -> driver)
==============  ===========================================================================

Run them with ``sbpca experiment NAME`` (see :mod:`cosim.cli.experiment`); each writes
``results.json``, ``table.md`` and ``NAME.png`` into ``results/NAME/``.
"""

from importlib import import_module

__all__ = ["EXPERIMENTS", "get_experiment"]

#: Experiment name -> module name inside this package.
EXPERIMENTS = {
    "spectrum": "spectrum",
    "convergence": "convergence",
    "curves": "curves",
    "batch-sweep": "batch_sweep",
    "rank-table": "rank_table",
    "variants": "variants",
    "baselines": "baselines",
    "quantization": "quantization",
    "ns-steps": "ns_steps",
    "devices": "devices",
}


def get_experiment(name: str):
    """Return the module of experiment ``name`` (a key of :data:`EXPERIMENTS`)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"name={name!r}: unknown experiment; choose from "
                         f"{', '.join(EXPERIMENTS)}")
    return import_module(f"{__name__}.{EXPERIMENTS[name]}")
