"""Hypothesis strategies for certificates and bundles."""

from __future__ import annotations

from hypothesis import strategies as st

from crossverify import Certificate, DocumentHeader, HashAlgorithm

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
claim_names = st.text(min_size=1, max_size=24)
headers = st.builds(
    DocumentHeader,
    doc_type=st.sampled_from(["DEPCERT", "ACCTSTMT", "CREDREC"]),
    issuer_id=st.sampled_from(["BNUMMOMX", "ICBKMOMX"]),
    issued_at=st.integers(0, 2**40 - 1),
    as_of=st.integers(0, 2**40 - 1),
    not_after=st.integers(0, 2**40 - 1),
)
certificates = st.builds(
    Certificate, header=headers, claims=st.dictionaries(claim_names, json_values, min_size=1, max_size=8)
)
hash_algs = st.sampled_from([HashAlgorithm.KECCAK256, HashAlgorithm.SHA256, HashAlgorithm.SM3])
