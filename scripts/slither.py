#!/usr/bin/env python3
"""Run slither over contracts/ (fed the solcjs standard-JSON input through scripts/solc) and compare its
findings of medium impact or higher with the triage in contracts/slither-triage.json.

Exit 0 when every such finding is triaged (fixed findings must leave the triage too), 1 otherwise.
Slither runs from its own virtual environment (.venv-slither, made by scripts/setup): it pins web3 7,
crossverify needs web3 8.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from crossverify.chain.compiler import CONTRACTS, SOLC_SHIM, standard_input

ROOT = CONTRACTS.parent
SLITHER = ROOT / ".venv-slither" / "bin" / "slither"
TRIAGE = CONTRACTS / "slither-triage.json"
SEVERE = {"Medium", "High"}


def findings() -> dict[str, str]:
    """Slither's medium and high findings in our contracts, as ``check: element`` -> description."""
    source = standard_input()
    source["settings"]["outputSelection"] = {
        "*": {"*": ["abi", "metadata", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}}
    with tempfile.TemporaryDirectory() as work:
        target, report = Path(work) / "input.json", Path(work) / "report.json"
        target.write_text(json.dumps(source))
        subprocess.run([str(SLITHER), str(target), "--compile-force-framework", "solc-json", "--solc", str(SOLC_SHIM),
                        "--filter-paths", "node_modules", "--json", str(report)],
                       cwd=ROOT, capture_output=True, text=True, check=False)
        if not report.exists():
            sys.exit("slither produced no report")
        results = json.loads(report.read_text())
    if not results.get("success"):
        sys.exit(f"slither failed: {results.get('error')}")
    out = {}
    for d in results["results"].get("detectors", []):
        if d["impact"] in SEVERE:
            element = d["elements"][0]
            parent = element.get("type_specific_fields", {}).get("parent", {}).get("name", "")
            out[f"{d['check']}: {parent + '.' if parent else ''}{element['name']}"] = d["description"].strip()
    return out


def main() -> int:
    found = findings()
    triage = json.loads(TRIAGE.read_text())
    untriaged = sorted(set(found) - set(triage))
    stale = sorted(set(triage) - set(found))
    unjustified = sorted(k for k, why in triage.items() if len(why.strip()) < 20)
    for key in untriaged:
        print(f"UNTRIAGED {key}\n    {found[key].splitlines()[0]}")
    for key in stale:
        print(f"STALE (no longer found; remove from {TRIAGE.name}) {key}")
    for key in unjustified:
        print(f"UNJUSTIFIED {key}")
    print(f"slither: {len(found)} findings of medium impact or higher, {len(found) - len(untriaged)} triaged")
    return 1 if untriaged or stale or unjustified else 0


if __name__ == "__main__":
    sys.exit(main())
