"""The rtl backend's checker and guards without a simulator: the captured update of a batch is
played by the golden chain itself (so it must pass), then one pulse, one sign or the readout flag
is changed and the check must stop with where and what; the network top's parameter guards."""

import numpy as np
import pytest

from cosim.rtl_backend import RtlApplier, check_top
from cosim.update_host import LayerUpdate
from golden.data import load_digits
from golden.mlp import MLP, make_rules
from golden.train_backends import CheckFailed, DriverApplier, TrainConfig, _rule_spec
from hdl.designs import get_design, unused

CFG = dict(backend="rtl", sizes=(64, 12, 10), k=2, batch=8, bl=5, lanes=4, seed=3)


class _Engine:
    """The part of RtlEngine the applier reads: the captured updates and batch counts."""

    def __init__(self, n):
        self.pending = [None] * n
        self.batches = [0] * n
        self.unit_cycles = [0] * n


def setup_run():
    cfg = TrainConfig(**CFG).check()
    data = load_digits()
    model = MLP(cfg.sizes, seed=cfg.seed)
    rule, opts = _rule_spec(cfg, "fixed")
    rules = make_rules(model, rule, rule_options=opts, seed=cfg.seed)
    kw = dict(device="ideal", lr=cfg.lr, bl=cfg.bl, scheme=cfg.scheme, seed=cfg.seed)
    applier = RtlApplier(model.weights, rules, check=True, **kw)
    applier.engine = _Engine(len(rules))
    golden = DriverApplier(model.weights, rules, **kw)       # plays the RTL's part
    _, xs, deltas = model.backward(data.x_train[:8], data.y_train[:8])
    return cfg, rules, applier, golden, xs, deltas


def captured(golden, layer, rules, xs, deltas, tamper=None):
    """Layer ``layer``'s batch through its rule, its update 'captured' from the golden chain
    (``tamper(rows, cols)`` may change it)."""
    rule = rules[layer]
    xq, dq = rule.begin(xs[layer], deltas[layer])
    rule.model.batch(xq, dq)
    golden.apply(layer, None, golden._lr)
    drive = golden.last_drive[layer]
    rows = np.stack([t.row_pulses for t in drive.terms])
    cols = np.stack([t.col_pulses for t in drive.terms])
    if tamper is not None:
        tamper(rows, cols)
    return LayerUpdate(rows, cols, drive.readout_saturated, 0,
                       tuple(t.plan.clipped_lines for t in drive.terms))


def test_an_exact_capture_passes_and_changes_the_array():
    cfg, rules, applier, golden, xs, deltas = setup_run()
    for layer in range(2):
        before = np.array(applier.weights(layer))
        applier.engine.pending[layer] = captured(golden, layer, rules, xs, deltas)
        applier.engine.batches[layer] = 1
        applier.apply(layer, None, cfg.lr)
        assert not np.array_equal(before, applier.weights(layer))
        assert np.array_equal(applier.weights(layer), golden.weights(layer))
    assert applier.checked_batches == [1, 1]


@pytest.mark.parametrize("what", ["pulse", "sign", "column", "saturated", "clipped lines"])
def test_a_changed_capture_stops_with_where_and_what(what):
    cfg, rules, applier, golden, xs, deltas = setup_run()

    def tamper(rows, cols):
        if what == "pulse":
            t, i = map(int, np.argwhere(rows[1] == 0)[0])
            rows[1, t, i] = 1
        elif what == "sign":
            t, i = map(int, np.argwhere(rows[0] != 0)[0])
            rows[0, t, i] = -rows[0, t, i]
        elif what == "column":
            t, j = map(int, np.argwhere(cols[0] != 0)[-1])
            cols[0, t, j] = 0

    upd = captured(golden, 0, rules, xs, deltas, tamper)
    if what == "saturated":
        upd = LayerUpdate(upd.rows, upd.cols, not upd.saturated, 0, upd.clip_lines)
    if what == "clipped lines":
        upd = LayerUpdate(upd.rows, upd.cols, upd.saturated, 0,
                          (upd.clip_lines[0] + 1, *upd.clip_lines[1:]))
    applier.engine.pending[0] = upd
    applier.engine.batches[0] = 1
    with pytest.raises(CheckFailed) as info:
        applier.apply(0, None, cfg.lr)
    d = info.value.details
    assert d["layer"] == 0 and d["batch"] == 0
    if what in ("saturated", "clipped lines"):
        assert d["what"] == what
    else:
        assert d["side"] == ("column" if what == "column" else "row")
        assert d["term"] == (1 if what == "pulse" else 0)
        assert "rtl pulse" in str(info.value) and "\n" not in str(info.value)


def test_the_top_must_fit_the_configuration():
    cfg = TrainConfig(**CFG).check()
    top, _ = get_design("network").build(sizes=(64, 12, 10), k=2, b_max=8, bl=5, lanes=4)
    unused(top)
    model = MLP(cfg.sizes, seed=0)
    check_top(top, model, cfg)
    with pytest.raises(ValueError, match=r"sizes=64,20,10: the network top was generated for "
                                         r"64,12,10"):
        check_top(top, MLP((64, 20, 10), seed=0), cfg)
    with pytest.raises(ValueError, match="batch=16: the network top takes batches up to 8"):
        check_top(top, model, TrainConfig(**{**CFG, "batch": 16}).check())
    with pytest.raises(ValueError, match="k=3: the network top was generated for k=2"):
        check_top(top, model, TrainConfig(**{**CFG, "k": 3}).check())
    with pytest.raises(ValueError, match="bl=7"):
        check_top(top, model, TrainConfig(**{**CFG, "bl": 7}).check())
