"""The Guangdong bank: check the bundles residents hand over, with a named outcome for every check."""
