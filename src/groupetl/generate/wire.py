"""The formats on disk: time encodings and incremental, byte-deterministic file writers.

Writers count what they write (files, lines, records, re-sends), so the manifest's totals come
from the files themselves, not from the code that decided what to write.

Re-sends (duplicates) are queued and written at the start of the *next* body (HTTP, Segment) or
the next file (Export), never next to the original: a later body or file, a later ``sentAt`` /
``receivedAt`` / ``server_upload_time``, so in record order (docs/semantics.md "Time and order") the
original comes first and is the one kept.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
BODY_MAX = 50  # records per HTTP / Segment body
BODY_SPAN_MS = 10 * 60_000  # a body is sent once it holds 50 records or spans 10 minutes
BODIES_PER_FILE = 500  # lines per HTTP / Segment file: at most 25k records, a few MB
MIN_ID_LENGTH = 5  # sent in every HTTP body as options.min_id_length
_EPOCH = datetime.date(1970, 1, 1)
_EXPORT_BUFFER_LINES = 4096

Record = dict[str, Any]
Encode = Callable[[Any], str]


@functools.lru_cache(maxsize=8192)
def _date_str(day: int) -> str:
    return (_EPOCH + datetime.timedelta(days=day)).isoformat()


def date_of(ms: int) -> str:
    """``YYYY-MM-DD`` (UTC) of epoch milliseconds."""
    return _date_str(ms // DAY_MS)


@functools.lru_cache(maxsize=4096)
def _minute_prefix(minute: int, separator: str) -> str:
    """``YYYY-MM-DD<separator>HH:MM:`` of a minute since the epoch (cached: times cluster)."""
    day, minute_of_day = divmod(minute, 1440)
    return f"{_date_str(day)}{separator}{minute_of_day // 60:02d}:{minute_of_day % 60:02d}:"


def export_time(ms: int) -> str:
    """Amplitude Export encoding of epoch ms: ``"2026-01-05 10:00:00.123000"`` (UTC)."""
    minute, rest = divmod(ms, 60_000)
    return f"{_minute_prefix(minute, ' ')}{rest // 1000:02d}.{rest % 1000:03d}000"


@functools.lru_cache(maxsize=64)
def _offset_suffix(offset_minutes: int) -> str:
    if offset_minutes == 0:
        return "Z"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{'+' if offset_minutes > 0 else '-'}{hours:02d}:{minutes:02d}"


def iso_time(ms: int, offset_minutes: int = 0) -> str:
    """ISO-8601 of epoch ms in a UTC offset: ``...T10:00:00.123Z`` or ``...T12:00:00.123+02:00``."""
    minute, rest = divmod(ms + offset_minutes * 60_000, 60_000)
    return (
        f"{_minute_prefix(minute, 'T')}{rest // 1000:02d}.{rest % 1000:03d}"
        f"{_offset_suffix(offset_minutes)}"
    )


class BodyWriter:
    """Bodies of up to ``BODY_MAX`` records, one JSON body per line, in files named per day.

    Files are ``<prefix>_<YYYY-MM-DD>_<NNN>.json`` under ``directory``; a file holds at most
    ``BODIES_PER_FILE`` lines. Subclasses say how a body is encoded.
    """

    def __init__(self, directory: Path, prefix: str, rng: random.Random, encode: Encode) -> None:
        self.files = self.lines = self.records = self.resends = 0
        self._directory = directory
        self._prefix = prefix
        self._rng = rng
        self._encode = encode
        self._date = ""
        self._counter = 0
        self._fh: TextIO | None = None
        self._file_lines = 0
        self._body: list[Record] = []
        self._body_first_t = 0
        self._body_max_t = 0
        self._pending: list[tuple[Record, int]] = []

    def start_day(self, date: str) -> None:
        """Close the current body and file; the next line opens ``<prefix>_<date>_001.json``."""
        self._flush_body()
        self._close()
        self._date = date
        self._counter = 0

    def add(self, record: Record, t: int) -> None:
        """Append one record (payload time ``t`` in epoch ms) to the open body."""
        if self._body and t - self._body_first_t > BODY_SPAN_MS:
            self._flush_body()
        if not self._body:
            self._body_first_t = t
            if self._pending:
                self._drain(BODY_MAX - 1)
        self._body.append(record)
        if t > self._body_max_t:
            self._body_max_t = t
        self.records += 1
        if len(self._body) >= BODY_MAX:
            self._flush_body()

    def resend_later(self, record: Record, t: int) -> None:
        """Queue an exact re-send of an already added record for the next body."""
        self._pending.append((record, t))

    def write_broken_line(self, text: str) -> None:
        """Write one line that is not valid JSON; it counts as one record."""
        self._write_line(text)
        self.records += 1

    def body_text(self, records: list[Record], max_t: int) -> str:
        """The JSON line of one body holding ``records`` (``max_t``: latest payload time)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Write what is queued (in later bodies than their originals) and close the file."""
        self._flush_body()
        while self._pending:
            self._drain(BODY_MAX)
            self._flush_body()
        self._close()

    def _drain(self, room: int) -> None:
        taken, self._pending = self._pending[:room], self._pending[room:]
        for record, t in taken:
            self._body.append(record)
            self._body_max_t = max(self._body_max_t, t)
        self.records += len(taken)
        self.resends += len(taken)

    def _flush_body(self) -> None:
        if self._body:
            self._write_line(self.body_text(self._body, self._body_max_t))
            self._body = []
            self._body_max_t = 0

    def _write_line(self, text: str) -> None:
        if self._fh is None or self._file_lines >= BODIES_PER_FILE:
            self._close()
            self._counter += 1
            path = self._directory / f"{self._prefix}_{self._date}_{self._counter:03d}.json"
            self._fh = path.open("w", encoding="utf-8", newline="\n")
            self.files += 1
        self._fh.write(text)
        self._fh.write("\n")
        self._file_lines += 1
        self.lines += 1

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._file_lines = 0


class HttpWriter(BodyWriter):
    """Amplitude HTTP V2 request bodies: ``{"api_key", "events": [...], "options"}``."""

    def __init__(self, directory: Path, api_key: str, rng: random.Random, encode: Encode) -> None:
        super().__init__(directory, "http", rng, encode)
        self._api_key = api_key

    def body_text(self, records: list[Record], max_t: int) -> str:
        """Encode one HTTP V2 body; the payload times are in the events themselves."""
        return self._encode(
            {
                "api_key": self._api_key,
                "events": records,
                "options": {"min_id_length": MIN_ID_LENGTH},
            }
        )


class SegmentWriter(BodyWriter):
    """Segment batch bodies ``{"batch": [...], "sentAt"}``; sets each message's ``receivedAt``.

    ``sentAt`` and ``receivedAt`` only ever increase from one body to the next, so a re-send in
    a later body always has the later source sequence.
    """

    def __init__(self, directory: Path, rng: random.Random, encode: Encode) -> None:
        super().__init__(directory, "segment", rng, encode)
        self._last_sent = 0
        self._last_received = 0

    def body_text(self, records: list[Record], max_t: int) -> str:
        """Encode one batch sent shortly after its latest message; ``receivedAt`` is stamped."""
        sent = max(max_t + self._rng.randint(200, 5_000), self._last_sent + 1)
        received = max(sent + self._rng.randint(20, 800), self._last_received + 1)
        self._last_sent, self._last_received = sent, received
        received_text = iso_time(received)
        for message in records:
            message["receivedAt"] = received_text
        return self._encode({"batch": records, "sentAt": iso_time(sent)})


class ExportWriter:
    """Amplitude Export files: gzipped JSON lines, one event per line, one file per hour.

    Files are ``<project>_<YYYY-MM-DD>_<HH>#<part>.json.gz`` (Amplitude's naming, with the hour
    zero-padded so that name order is time order).
    The gzip header has ``mtime=0`` and a fixed name, so equal content gives equal bytes.
    """

    def __init__(
        self, directory: Path, project_id: str, rng: random.Random, encode: Encode
    ) -> None:
        self.files = self.lines = self.records = self.resends = 0
        self._directory = directory
        self._project_id = project_id
        self._rng = rng
        self._encode = encode
        self._key = ("", 0)
        self._part = 0
        self._opened_key = False
        self._gz: gzip.GzipFile | None = None
        self._buffer: list[str] = []
        self._pending: list[tuple[Record, int]] = []

    def set_hour(self, date: str, hour: int) -> None:
        """Records added from now on go to the file of this (date, hour)."""
        if (date, hour) != self._key:
            self._close()
            self._key = (date, hour)
            self._part = 0
            self._opened_key = False

    def add(self, record: Record) -> None:
        """Append one event line to the current hour's file."""
        self.add_line(self._encode(record))

    def add_line(self, text: str) -> None:
        """Append one raw line (possibly broken JSON); it counts as one record."""
        self._ensure_open()
        self._append(text)
        self.records += 1

    def resend_later(self, record: Record, upload_ms: int) -> None:
        """Queue a re-send of an added event for the next file, with a later upload time."""
        self._pending.append((record, upload_ms))

    def finish(self) -> None:
        """Write what is queued into one more part of the last hour, and close."""
        if self._pending:
            self._close()
            if self._opened_key:
                self._part += 1
            self._ensure_open()
        self._close()

    def _ensure_open(self) -> None:
        if self._gz is not None:
            return
        date, hour = self._key
        name = f"{self._project_id}_{date}_{hour:02d}#{self._part}.json.gz"
        self._gz = gzip.GzipFile(
            filename=name,
            mode="wb",
            fileobj=(self._directory / name).open("wb"),
            mtime=0,
            compresslevel=3,  # 2x faster than zlib's default 6, files 12% larger
        )
        self._opened_key = True
        self.files += 1
        pending, self._pending = self._pending, []
        for record, upload_ms in pending:
            record["server_upload_time"] = export_time(
                upload_ms + self._rng.randint(60_000, HOUR_MS)
            )
            self._append(self._encode(record))
        self.records += len(pending)
        self.resends += len(pending)

    def _append(self, text: str) -> None:
        self._buffer.append(text)
        self.lines += 1
        if len(self._buffer) >= _EXPORT_BUFFER_LINES:
            self._flush_buffer()

    def _flush_buffer(self) -> None:
        if self._buffer and self._gz is not None:
            self._buffer.append("")  # so the joined text ends with a newline
            self._gz.write("\n".join(self._buffer).encode("utf-8"))
            self._buffer = []

    def _close(self) -> None:
        if self._gz is not None:
            self._flush_buffer()
            fileobj = self._gz.fileobj
            self._gz.close()
            if fileobj is not None:
                fileobj.close()
            self._gz = None
