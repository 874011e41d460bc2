"""cak_dsp.buffers: the engine's in-place shifts equal numpy's, for every start and shift."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp.buffers import shift_rows


@pytest.mark.parametrize("by,start", [(512, 0), (1, 0), (64, 1920), (557, 3), (1024, 1023), (2047, 0)])
def test_shift_rows_matches_numpy(by: int, start: int) -> None:
    rng = np.random.default_rng(by + start)
    buf = rng.standard_normal((3, 2048))
    expected = buf.copy()
    expected[:, start:2048 - by] = buf[:, start + by:]
    expected[:, 2048 - by:] = 0.0
    shift_rows(buf, by, start)
    np.testing.assert_array_equal(buf, expected)


def test_shift_rows_of_a_one_row_view_leaves_the_rest_alone() -> None:
    acc = np.arange(20.0)
    before = acc.copy()
    shift_rows(acc.reshape((1, 20)), 5, 4)
    np.testing.assert_array_equal(acc[:4], before[:4])
    np.testing.assert_array_equal(acc[4:15], before[9:])
    np.testing.assert_array_equal(acc[15:], 0.0)
