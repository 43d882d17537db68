"""Hypothesis strategies for certificates and bundles."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

from crossverify import Certificate, DocumentHeader, HashAlgorithm
from crossverify.format.certificate import claim_name_fault

SAFE_INT = 2**53 - 1

json_scalars = (
    st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
claim_names = (
    st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=24)
    .map(lambda name: unicodedata.normalize("NFC", name))
    .filter(lambda name: claim_name_fault(name) is None and name != "cnf")  # cnf is reserved for the holder key
)
headers = st.tuples(
    st.sampled_from(["DEPCERT", "ACCTSTMT", "CREDREC"]), st.sampled_from(["BNUMMOMX", "ICBKMOMX"]),
    st.integers(0, 2**40 - 1), st.integers(0, 2**40 - 1),
).flatmap(lambda t: st.integers(t[2], 2**40 - 1).map(lambda not_after: DocumentHeader(*t, not_after)))
certificates = st.builds(
    Certificate, header=headers, claims=st.dictionaries(claim_names, json_values, min_size=1, max_size=8)
)
hash_algs = st.sampled_from([HashAlgorithm.KECCAK256, HashAlgorithm.SHA256, HashAlgorithm.SM3])
