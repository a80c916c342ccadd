"""cosim.stream.pack/unpack agree with Amaranth's own layout packing."""

import random

from amaranth.hdl import signed
from amaranth.lib import data

from cosim.stream import pack, unpack


def test_pack_unpack_match_amaranth_layout():
    layout = data.StructLayout({"a": signed(16), "b": signed(5), "c": signed(33), "f": 1, "u": 7})
    rng = random.Random(3)
    for _ in range(300):
        fields = {"a": rng.randint(-2 ** 15, 2 ** 15 - 1), "b": rng.randint(-16, 15),
                  "c": rng.randint(-2 ** 32, 2 ** 32 - 1), "f": rng.randint(0, 1),
                  "u": rng.randint(0, 127)}
        bits = pack(layout, **fields)
        assert bits == layout.const(fields).as_bits()
        assert unpack(layout, bits) == fields
