"""The Macao issuer: journal certificates, seal batches, sign and anchor roots, deliver bundles, revoke."""
