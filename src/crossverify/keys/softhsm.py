"""SoftHSM2, the software PKCS#11 token (Debian package ``softhsm2``): throw-away tokens for the demo, the
benchmarks and the tests. A bank's HSM is configured, never made here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import TokenError, TokenModuleUnavailable

#: Where Debian's package (per architecture) and a build from source put the module.
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def softhsm_module() -> str:
    """The path of the SoftHSM2 PKCS#11 module."""
    found = next((p for p in MODULE_PATHS if Path(p).exists()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        raise TokenModuleUnavailable("SoftHSM2 is not installed: run ./scripts/setup, or apt-get install softhsm2")
    return found


def init_softhsm(directory: Path, tokens: Sequence[str], pin: str, so_pin: str) -> str:
    """Make fresh tokens under ``directory`` and point this process and its children at them.

    SoftHSM2 reads ``SOFTHSM2_CONF`` and lists its tokens when the module is first loaded in a process, so call
    this before anything here loads it. Returns the module's path.
    """
    module = softhsm_module()
    (directory / "tokens").mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in tokens:
        done = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                               "--so-pin", so_pin], capture_output=True, text=True)
        if done.returncode:
            raise TokenError(f"softhsm2-util could not make token {label!r}: {done.stderr.strip()}")
    return module
