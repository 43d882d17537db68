"""Signers: where the keys that sign anchors and send transactions live. Callers get an eth-account
``BaseAccount`` and never touch key bytes."""
