#!/usr/bin/env python3
"""Recompile contracts/ with the pinned solcjs and rewrite the committed artifacts."""

import sys

import solcx.exceptions

from crossverify.chain.compiler import compile_contracts, write_artifacts

if __name__ == "__main__":
    try:
        artifacts = compile_contracts()
    except solcx.exceptions.SolcError as exc:
        sys.exit(exc.message)
    for path in write_artifacts(artifacts):
        print(f"wrote {path}")
