"""Run every guard mutation (or those whose name contains any argument) against its tests.

A mutation is killed when every test named for it fails on a copy of `service/` carrying it;
the baseline (the same tests, unmutated) must pass first. Exit status 1 when any test passed
with its guard removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .catalogue import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]


def apply(mutation: Mutation, service: Path) -> None:
    """Write the mutation into the copy of `service/` at `service`."""
    target = service / "shop" / mutation.path
    text = target.read_text()
    if text.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the guard no longer occurs once in {mutation.path}")
    target.write_text(text.replace(mutation.old, mutation.new))


def run_tests(tests: tuple[str, ...], service: Path | None) -> tuple[list[str], float, str]:
    """Run `tests` against `service` (the checked-out one when None).

    Returns the short-summary lines of the tests that failed, the seconds taken and the tail.
    """
    env = dict(os.environ)
    if service is not None:
        env["PYTHONPATH"] = f"{service}{os.pathsep}{env.get('PYTHONPATH', '')}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    failed = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    if done.returncode != 0 and not failed:  # collection or usage error: nothing ran
        failed = [f"ERROR pytest exited with {done.returncode}"]
    return failed, time.monotonic() - started, "\n".join(lines[-40:])


def _failed(node: str, failures: list[str]) -> bool:
    return any(line.split(" ", 1)[1].startswith(node) for line in failures)


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(part in m.name for part in argv)]
    every_test = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
    failures, seconds, tail = run_tests(every_test, None)
    print(f"baseline: {len(every_test)} tests {'FAIL' if failures else 'pass'} ({seconds:.0f}s)")
    if failures:
        print(tail)
        return 1
    survived = []
    for mutation in chosen:
        with tempfile.TemporaryDirectory(prefix="shop-mutant-") as tmp:
            service = Path(tmp) / "service"
            shutil.copytree(ROOT / "service", service, ignore=shutil.ignore_patterns("*.pyc"))
            apply(mutation, service)
            failures, seconds, tail = run_tests(mutation.tests, service)
        passing = [t for t in mutation.tests if not _failed(t, failures)]
        print(f"{'SURVIVED' if passing else 'killed':8}  {mutation.name} ({seconds:.0f}s)")
        for line in failures:
            print(f"          {line[:160]}")
        for test in passing:
            print(f"          still passes: {test}")
        sys.stdout.flush()
        if passing:
            survived.append(mutation.name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} guard mutations killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
