"""Marking Components built only for their facts as deliberately not elaborated."""

__all__ = ["unused"]


def unused(component):
    """Mark ``component`` and the Elaboratables it holds as deliberately not elaborated (built
    only for its facts: cycle counts, layouts, memory words), so Amaranth does not warn."""
    from amaranth.hdl import Elaboratable

    component._MustUse__silence = True
    for value in vars(component).values():
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(item, Elaboratable):
                unused(item)
    return component
