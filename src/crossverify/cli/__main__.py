"""``python -m crossverify.cli``: the same command as ``crossverify``."""

from . import main

main()
