#!/usr/bin/env python3
"""Copy the resident page's JavaScript packages from node_modules (installed from package-lock.json by `npm ci`)
into the Python package, so that an installed crossverify serves them without a checkout or npm. Run it after
changing a pinned version; tests/service/test_resident.py checks the copies against node_modules and the lock."""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from crossverify.service.resident import VENDOR, VENDORED  # noqa: E402

if __name__ == "__main__":
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    shutil.rmtree(VENDORED, ignore_errors=True)
    manifest = {}
    for folder, (package, files) in VENDOR.items():
        source = ROOT / "node_modules" / package
        entry = lock[f"node_modules/{package}"]
        for name in files:
            target = VENDORED / folder / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
        manifest[folder] = {"package": package, "version": entry["version"], "integrity": entry["integrity"],
                            "files": files}
    (VENDORED / "packages.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {VENDORED}")
