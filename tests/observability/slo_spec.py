"""The SLO spec and its generator, imported the way `make slo` runs them (as scripts)."""

from __future__ import annotations

import sys

from .stack_files import ROOT

# The generator's folder is on the path only from here, before its modules are imported.
sys.path.insert(0, str(ROOT / "observability" / "slo"))

import build
import spec

__all__ = ["build", "spec"]
