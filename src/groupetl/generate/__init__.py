"""Deterministic synthetic B2B product-analytics data in the real raw formats, plus its manifest.

``generate(spec, out_dir)`` writes, under ``out_dir/landing/``:

- ``amplitude_http/http_<date>_<NNN>.json``: Amplitude HTTP V2 bodies, one per line, up to 50
  records each (activity events, ``$identify``, ``$groupidentify``);
- ``amplitude_export/<project>_<date>_<HH>#<part>.json.gz``: Amplitude Export files, gzipped,
  one activity event per line, one file per hour;
- ``segment/segment_<date>_<NNN>.json``: Segment batches, one per line (``track``, ``page``,
  ``screen``, ``identify``, ``group``);

and ``out_dir/manifest.json``, the exact count of every record by where it must end up (see
``manifest.py``). The same spec always gives the same bytes: one ``random.Random(seed)`` drives
everything, nothing depends on the clock or on set order. Memory stays O(users + companies):
records are streamed to the files as they are drawn, in payload-time order.

Layout: ``spec.py`` (what to generate), ``world.py`` (companies, users, schedule),
``engine.py`` (the main loop), ``activity.py`` (activity events and faults), ``accounts.py``
(identify, group identify), ``context.py`` (shared state), ``records.py`` (payloads, taxonomy,
faults), ``wire.py`` (time encodings, file writers), ``manifest.py`` (counts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from groupetl.errors import InputError
from groupetl.generate.engine import Generator
from groupetl.generate.manifest import FORMATS, Manifest
from groupetl.generate.spec import GeneratorSpec, GeneratorSpecError

__all__ = [
    "FORMATS",
    "GeneratorSpec",
    "GeneratorSpecError",
    "LandingNotEmptyError",
    "Manifest",
    "event_group_names",
    "generate",
]

# The names the generator gives its files, per format folder (used by ``replace``).
_OWN_FILES = {
    "amplitude_http": "http_*.json",
    "amplitude_export": "*_*#*.json.gz",
    "segment": "segment_*.json",
}


class LandingNotEmptyError(InputError, FileExistsError):
    """The output folder already holds generated files (a ``FileExistsError``)."""


def generate(
    spec: GeneratorSpec,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    *,
    replace: bool = False,
) -> Manifest:
    """Write the dataset described by ``spec`` under ``out_dir`` and return its manifest.

    ``out_dir/landing/<format>/`` must hold no generated files yet (``LandingNotEmptyError``, a
    ``FileExistsError``, otherwise: two datasets must never mix); with ``replace=True`` files
    matching the generator's own names there are deleted first. An invalid spec raises
    ``GeneratorSpecError``, a ``ValueError``. ``progress`` receives one line per generated day.
    ``manifest.json`` is written last, after its counts were checked to add up.

    Example::

        manifest = generate(GeneratorSpec(seed=1, events=5_000), Path("out"))
        manifest.to_dict()["records_total"]
    """
    spec.validate()
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    for fmt in FORMATS:
        folder = landing / fmt
        folder.mkdir(parents=True, exist_ok=True)
        existing = sorted(folder.glob(_OWN_FILES[fmt]))
        if existing and not replace:
            raise LandingNotEmptyError(
                f"{folder} already holds generated files (e.g. {existing[0].name}); "
                "generate into an empty folder or pass replace=True"
            )
        for path in existing:
            path.unlink()
    # A run that fails half-way must not leave a manifest that describes other files.
    (out_dir / "manifest.json").unlink(missing_ok=True)
    manifest = Generator(spec, landing, progress or _ignore).run()
    manifest.write(out_dir / "manifest.json")
    return manifest


def _ignore(_message: str) -> None:
    """The default progress callback: report nothing."""


def event_group_names(spec: GeneratorSpec) -> dict[str, str]:
    """A readable name for every value of the event-level group type (``spec.group_types[1]``,
    e.g. ``ws1001_2 -> "Harbor Labs GmbH workspace 2"``) that the dataset of ``spec`` may use.

    The generator itself never names these groups (Amplitude projects often do so through the
    Group Identify API, out of band); ``groupetl demo`` writes such a call with these names. The
    world is rebuilt exactly as ``generate`` builds it (same random stream), nothing is written.
    """
    from groupetl.generate.context import Context

    world = Context(spec, Path("landing-not-written")).world
    names = {}
    for c in world.company_ids:
        for k in range(1, world.workspaces[c] + 1):
            names[world.workspace_value(c, k)] = f"{world.company_name(c)} workspace {k}"
    return names
