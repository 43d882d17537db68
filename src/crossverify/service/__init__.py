"""``crossverify serve``: the HTTP face over the same session as the command line.

For a Guangdong bank: verify bundles one by one or many at once, with receipts recorded in the background
through the exactly-once outbox. For a Macao issuer: submit certificates (idempotent by reference), follow
batches, revoke by reference, while the pipeline runs in the background. For a regulator: the audit report,
served live from an index kept in sync. Institution endpoints need an API key (only its SHA-256 is in the
configuration), are rate-limited per client, and answer errors as RFC 9457 problem details.
"""
