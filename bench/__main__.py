"""Run every benchmark module of this package: ``python -m bench [name ...]``.

With names (``analysis`` or ``bench_analysis``), runs only those modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def discover() -> list[str]:
    """Names of the ``bench_*`` modules next to this file, sorted."""
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    """Import each benchmark module and call its ``main()``; return 1 if any failed."""
    argv = sys.argv[1:] if argv is None else argv
    names = discover()
    if argv:
        wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in argv}
        unknown = wanted - set(names)
        if unknown:
            print(
                f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}",
                file=sys.stderr,
            )
            return 2
        names = [n for n in names if n in wanted]
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            entry = getattr(module, "main", None)
            if entry is None:
                print(f"{name}: no main(); skipped")
                continue
            saved_argv = sys.argv
            sys.argv = [f"bench.{name}"]  # each module parses its own (empty) arguments
            try:
                code = entry()
            finally:
                sys.argv = saved_argv
            if isinstance(code, int) and code != 0:
                failed.append(name)
                print(f"{name} exited with {code}", flush=True)
        except (Exception, SystemExit) as exc:  # keep going: one broken bench must not hide others
            failed.append(name)
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"--- {name}: {time.perf_counter() - t0:.1f} s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
