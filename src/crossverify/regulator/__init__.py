"""The regulator: every registry event in a local index, and the audit reports built from it."""
