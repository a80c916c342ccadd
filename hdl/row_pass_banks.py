"""Where the row-pass engine keeps its banks: row and input addresses, per lane (generation time).

The engine (``hdl/row_pass.py``) holds up to :data:`MAX_BANKS` stored matrices, its *banks*.
Bank ``b`` has ``n_b`` rows and takes ``rows_b = ceil(n_b / lanes)`` addresses of every lane's
row memory, after the banks before it (``base_b = rows_0 + ... + rows_{b-1}``): row ``i`` of bank
``b`` lives in lane ``i mod lanes`` at address ``base_b + i // lanes``. Input words are stored
the same way, in two buffers of ``depth`` addresses each::

    row memory, each lane:     | bank 0 (rows_0) | bank 1 (rows_1) | ...
    input memory, each lane:   | buffer 0: bank 0 | bank 1 | ... | buffer 1: bank 0 | bank 1 | ...
    inp_w beat t of bank b:    its W words -> lanes g W .. g W + W - 1, g = t mod (lanes / W),
                               at address base_b + t // (lanes / W) of the buffer

A bank's last address holds rows in its first ``n_b - (rows_b - 1) lanes`` lanes only
(:attr:`BankMap.tail_masks`); a bank's last input beat stores its first ``n_b - (beats_b - 1) W``
words (:attr:`BankMap.last_words`). :meth:`BankMap.lookup` turns a per-bank table into hardware
indexed by a bank number.
"""

from amaranth.hdl import Array, Const

from golden.check import check_int

__all__ = ["BankMap", "MAX_BANKS", "check_banks"]

#: Most banks (stored matrices) one engine holds.
MAX_BANKS = 4


def check_banks(banks) -> tuple:
    """Return ``banks`` as a tuple of 1 to :data:`MAX_BANKS` row counts (each at least 1), or
    raise ``TypeError``/``ValueError`` naming the parameter and the value."""
    if isinstance(banks, (str, bytes)) or not hasattr(banks, "__iter__"):
        raise TypeError(f"banks={banks!r}: must be a tuple of row counts, e.g. (784, 100)")
    banks = tuple(banks)
    if not 1 <= len(banks) <= MAX_BANKS:
        raise ValueError(f"banks={banks!r}: must hold 1 to {MAX_BANKS} row counts")
    for n in banks:
        try:
            check_int("banks", n, minimum=1)
        except TypeError:
            raise TypeError(f"banks={banks!r}: row counts must be integers") from None
        except ValueError:
            raise ValueError(f"banks={banks!r}: row counts must be at least 1") from None
    return tuple(int(n) for n in banks)


class BankMap:
    """Addresses of ``banks`` (validated row counts) spread over ``lanes`` lanes, with ``words``
    input words per ``inp_w`` beat (see the module docstring)."""

    def __init__(self, banks: tuple, lanes: int, words: int):
        self.banks = banks
        self.lanes = lanes
        self.words = words
        #: ``rows_b``: row addresses of each bank in every lane.
        self.rows = tuple(-(-n // lanes) for n in banks)
        #: ``base_b``: first row address of each bank.
        self.bases = tuple(sum(self.rows[:b]) for b in range(len(banks)))
        #: Words of each lane's row memory (all banks); its input memory holds twice as many.
        self.depth = sum(self.rows)
        #: ``inp_w`` beats that fill each bank of a buffer: ``ceil(n_b / words)``.
        self.input_beats = tuple(-(-n // words) for n in banks)
        #: Per bank, the lanes (bit mask) holding a row at its last address.
        self.tail_masks = tuple(sum(1 << lane for lane in range(lanes)
                                    if lane < n - (rows - 1) * lanes)
                                for n, rows in zip(banks, self.rows))
        #: Per bank, the words (bit mask) of its last input beat that are stored.
        self.last_words = tuple(sum(1 << w for w in range(words) if w < n - (beats - 1) * words)
                                for n, beats in zip(banks, self.input_beats))

    def __len__(self):
        return len(self.banks)

    @staticmethod
    def lookup(values, index, shape):
        """``values[index]`` in hardware: a table of per-bank constants of ``shape``."""
        return Array(Const(v, shape) for v in values)[index]
