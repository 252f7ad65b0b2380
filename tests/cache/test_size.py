import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA

from dagreuse.cache import LRU, WReciprocal, format_bytes, parse_capacity, sizeof


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512MB", 512 * 10**6), ("2GB", 2 * 10**9), ("1.5 GiB", int(1.5 * 2**30)), ("100kB", 10**5),
     ("64", 64), (1024, 1024), (0, 0), (math.inf, math.inf), ("3KiB", 3 * 1024)],
)
def test_parse_capacity(text, expected):
    assert parse_capacity(text) == expected


@pytest.mark.parametrize("bad", ["12 parsecs", "MB", "", "-5MB", -1, float("nan")])
def test_bad_capacity_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"'capacity' parameter of WReciprocal must be .* Got"):
        WReciprocal(bad)


@pytest.mark.parametrize("bad", [None, [1], True])
def test_capacity_of_wrong_type(bad):
    with pytest.raises(TypeError, match=r"'capacity' parameter of LRU must be"):
        LRU(bad)


def test_format_bytes_round_trips():
    for n in (256 * 10**6, 2 * 10**9, 1234, 5000):
        assert parse_capacity(format_bytes(n)) == n


def test_sizes_come_from_the_real_objects():
    a = np.zeros((100, 50))
    assert sizeof(a) >= a.nbytes
    s = sp.random(500, 500, density=0.01, format="csr", random_state=0)
    parts = s.data.nbytes + s.indices.nbytes + s.indptr.nbytes
    assert parts <= sizeof(s) < parts + 4096
    pca = PCA(5).fit(np.random.default_rng(0).random((200, 40)))
    assert sizeof(pca) >= pca.components_.nbytes  # not the 56-byte instance header
    assert sizeof((a, a)) >= 2 * a.nbytes
