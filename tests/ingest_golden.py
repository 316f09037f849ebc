"""Write the ingest equivalence goldens: the corpus of tests/ingest_corpus.py ingested in three
batches, every table dumped canonically to ``tests/data/ingest_equivalence/<table>.jsonl.gz``.

The goldens must come from the reference (pre-rewrite) implementation. Run it from a git
worktree of that commit, importing the worktree's package::

    git worktree add --detach /work/golden c4d046e        # once
    PYTHONPATH=/work/golden/src .venv/bin/python tests/ingest_golden.py

``--out DIR`` writes elsewhere (e.g. to check determinism: run twice, compare the bytes).
The script prints which ``groupetl`` it imported; it refuses to write the committed goldens
from a package outside a worktree unless ``--allow-any-package`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The project's jar cache (made by ./dev setup), as tests/conftest.py does.
os.environ.setdefault("GROUPETL_IVY_DIR", str(HERE.parent / ".cache" / "ivy"))

import ingest_corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ingest_corpus.GOLDEN_DIR)
    parser.add_argument("--allow-any-package", action="store_true")
    args = parser.parse_args(argv)

    import groupetl
    from groupetl.session import build_session

    package = Path(groupetl.__file__).resolve().parent
    print(f"groupetl imported from {package}")
    if (
        args.out.resolve() == ingest_corpus.GOLDEN_DIR
        and package.parent.parent == HERE.parent
        and not args.allow_any_package
    ):
        print(
            "refusing to write the committed goldens with this checkout's own package: run the "
            "reference implementation (PYTHONPATH=<worktree>/src), or pass --allow-any-package",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="groupetl-golden-") as tmp:
        root = Path(tmp)
        # the same session as tests/conftest.py's ``spark`` fixture
        spark = build_session(master="local[2]", warehouse=root / "warehouse", profile="test")
        try:
            batches = ingest_corpus.corpus_batches()
            config, results = ingest_corpus.ingest_corpus(spark, root / "project", batches)
            dumps = ingest_corpus.dump(spark, config, results, batches)
        finally:
            spark.stop()
    ingest_corpus.write_dumps(dumps, args.out)
    for name in ingest_corpus.DUMPS:
        size = ingest_corpus.golden_path(args.out, name).stat().st_size
        print(f"  {name:<28} {len(dumps[name]):>7} rows {size:>10,} bytes")
    for r in results:
        print("  run:", {k: v for k, v in r.counts.items()})
    print(f"wrote {args.out} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
