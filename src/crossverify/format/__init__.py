"""The certificate format: canonical JSON, hashing, Merkle trees, certificates, batches and bundles.

Everything here works offline and imports nothing from :mod:`crossverify.chain` or the roles above it: a
resident's device or a second implementation needs only this layer (and ``docs/format.md``).
"""
