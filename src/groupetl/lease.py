"""One writer per warehouse: a lease file every writing command takes before it starts Spark.

Two writers of one project's tables at the same time corrupt them: two ingests of the same
landing files compute the same batch, both commit it, and every new record ends up 2 to 4 times
in silver (issue 18). So every command that writes (ingest, attribute, report, retention,
cohorts, dynamic properties, CRM sync, QA, ``run``, ``demo``, the ``jobs/`` entry points) first
takes the warehouse's lease, and a second one exits at once with :class:`WarehouseBusy` naming
the holder (exit code :data:`EXIT_BUSY`), before its JVM starts::

    another ingest of project shop holds the warehouse /data/shop/warehouse since
    2026-12-07 12:03:05 UTC (pid 4242 on host etl-1); run again when it has finished

The lease is the file ``<warehouse>/_groupetl_lease.json``: command, project, host, pid (and
the pid's start time, so a reused pid is not mistaken for the holder), start time, last
heartbeat and expiry. Taking it is one atomic ``open(O_CREAT | O_EXCL)``: of two commands that
start together exactly one creates the file. The holder rewrites it every
:data:`HEARTBEAT_SECONDS` (write a temporary file, then ``os.replace``: readers never see half a
lease) and deletes it when it ends.

A crashed holder (SIGKILL, power loss) leaves its lease behind; it never blocks the next run:

- holder on this host: stale as soon as its process is gone (or is a zombie, or its pid now
  belongs to another process), and so is the Spark driver JVM it started (a JVM outlives its
  killed Python parent by a moment, and may finish a commit in it). The liveness check is
  exact, so there is no waiting;
- holder on another host (a warehouse on a shared filesystem): stale once its heartbeat is
  older than :data:`TTL_SECONDS`, since its process cannot be seen from here.

A stale lease is taken over: deleted under a short ``flock`` on ``_groupetl_lease.takeover``
(so two commands taking over the same stale lease do not delete each other's fresh one) and then
created anew as above. A live holder on this host is never taken over, even with an old
heartbeat (a stopped or very slow process may still write).

Limits: the atomic create needs a filesystem with POSIX ``O_EXCL`` semantics: a local disk,
NFSv3+ or a cluster filesystem. On an object store (``s3://``, ``abfss://``) this lease cannot be
taken; the warehouse paths of groupetl's config are local paths today, and a deployment on an
object store must serialize its writers in the scheduler (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from groupetl.errors import GroupEtlError

log = logging.getLogger(__name__)

LEASE_FILE = "_groupetl_lease.json"
TAKEOVER_FILE = "_groupetl_lease.takeover"
EXIT_BUSY = 75  # sysexits.h EX_TEMPFAIL: try again later
HEARTBEAT_SECONDS = 30.0
TTL_SECONDS = 300.0  # ten missed heartbeats: the holder (on another host) is presumed dead
_ATTEMPTS = 5
_READ_RETRY_SECONDS = 2.0  # a lease just created by O_EXCL may be read before it is written


class WarehouseBusy(GroupEtlError):
    """Another groupetl command holds the warehouse's lease; this one did nothing."""

    exit_code = EXIT_BUSY


class LeaseError(GroupEtlError):
    """The lease cannot be taken for a reason other than a holder (read-only warehouse, ...)."""


@dataclass(frozen=True)
class Holder:
    """What a lease file says: who holds the warehouse, since when, until when."""

    command: str
    project: str
    host: str
    pid: int
    pid_started: str | None  # the process's start time (Linux /proc), to tell a reused pid
    started_at: str  # ISO-8601 UTC
    heartbeat_at: str
    expires_at: str
    token: str
    # the Spark driver JVM this process started (its child): it may finish a commit after
    # its parent was killed, so the lease stays live until it is gone too
    jvm_pid: int | None = None
    jvm_started: str | None = None

    def since(self) -> str:
        return _parse(self.started_at).strftime("%Y-%m-%d %H:%M:%S UTC")

    def describe(self, warehouse: Path) -> str:
        """The loser's one-line message."""
        return (
            f"another {self.command} of project {self.project} holds the warehouse {warehouse} "
            f"since {self.since()} (pid {self.pid} on host {self.host}); run again when it has "
            "finished"
        )


def lease_path(warehouse: Path) -> Path:
    return warehouse / LEASE_FILE


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _pid_started(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), or None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of stat(5)


def _process_gone(pid: int, started: str | None) -> bool:
    """True when ``pid`` is not running, is a zombie, or is another process than the holder."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rfind(")") + 2 :].split()[0] == "Z":  # killed, not yet reaped
            return True
    except (OSError, IndexError):
        return False
    return started is not None and _pid_started(pid) not in (None, started)


def stale_reason(holder: Holder, now: dt.datetime | None = None) -> str | None:
    """Why ``holder``'s lease may be taken over (None: it is live and must be respected)."""
    if holder.host == socket.gethostname():
        jvm_gone = holder.jvm_pid is None or _process_gone(holder.jvm_pid, holder.jvm_started)
        if _process_gone(holder.pid, holder.pid_started) and jvm_gone:
            return f"its process {holder.pid} on this host has ended"
        return None
    if (now or _now()) > _parse(holder.expires_at):
        return f"no heartbeat from host {holder.host} since {holder.heartbeat_at}"
    return None


def read_holder(warehouse: Path) -> Holder | None:
    """The current lease of ``warehouse`` (None when there is none).

    A lease file that does not parse is waited for briefly (it may have just been created and
    not yet written); one that stays unparseable is reported as a ``LeaseError``.
    """
    path = lease_path(warehouse)
    deadline = time.monotonic() + _READ_RETRY_SECONDS
    while True:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LeaseError(f"cannot read the lease {path}: {exc.strerror}") from None
        try:
            return Holder(**json.loads(text))
        except (ValueError, TypeError):
            if time.monotonic() > deadline:
                raise LeaseError(
                    f"{path} is not a groupetl lease; if no groupetl command is running on "
                    "this warehouse, delete it"
                ) from None
            time.sleep(0.05)


class Lease:
    """A held lease: heartbeats in a daemon thread until :meth:`release`."""

    def __init__(self, warehouse: Path, holder: Holder, took_over: str | None):
        self.warehouse = warehouse
        self.holder = holder
        self.took_over = took_over  # what stale lease was replaced, for the run's notes
        self._released = False
        self._lock = threading.Lock()  # a renewal never rewrites a lease being released
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="groupetl-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._renew()
            except Exception:  # a missed heartbeat only matters to other hosts after the TTL
                log.warning("could not renew the warehouse lease", exc_info=True)

    def _renew(self) -> None:
        with self._lock:
            if not self._released:
                self._renew_held()

    def _renew_held(self) -> None:
        current = read_holder(self.warehouse)
        if current is None or current.token != self.holder.token:
            log.error("the warehouse lease was taken from this process: %s", current)
            self._stop.set()
            return
        now = _now()
        self.holder = _with_times(self.holder, now)
        _write_atomically(lease_path(self.warehouse), self.holder)

    def add_jvm(self, pid: int) -> None:
        """Record the Spark driver JVM started by this process (see ``Holder.jvm_pid``)."""
        with self._lock:
            if self._released:
                return
            changes = {"jvm_pid": pid, "jvm_started": _pid_started(pid)}
            self.holder = Holder(**{**asdict(self.holder), **changes})
            _write_atomically(lease_path(self.warehouse), self.holder)

    def release(self) -> None:
        """Stop the heartbeat and delete the lease if it is still this process's."""
        with self._lock:
            if self._released:
                return
            self._released = True
            self._stop.set()
            self._delete_if_mine()

    def _delete_if_mine(self) -> None:
        try:
            current = read_holder(self.warehouse)
            if current is not None and current.token == self.holder.token:
                lease_path(self.warehouse).unlink()
        except (OSError, LeaseError):
            log.warning("could not release the warehouse lease", exc_info=True)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _with_times(holder: Holder, now: dt.datetime) -> Holder:
    expires = now + dt.timedelta(seconds=TTL_SECONDS)
    return Holder(**{**asdict(holder), "heartbeat_at": _iso(now), "expires_at": _iso(expires)})


def _write_atomically(path: Path, holder: Holder) -> None:
    tmp = path.with_name(f".{path.name}.{holder.token}.tmp")
    tmp.write_text(json.dumps(asdict(holder)), encoding="utf-8")
    os.replace(tmp, path)


def _create(path: Path, holder: Holder) -> bool:
    """Create the lease file exclusively; False when it already exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(holder)))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:  # e.g. a full disk: leave no empty lease behind
        path.unlink()
        raise
    return True


def _remove_if_same(warehouse: Path, stale: Holder) -> None:
    """Delete the lease if it is still ``stale`` (checked and deleted under a host-wide flock)."""
    import fcntl

    with open(warehouse / TAKEOVER_FILE, "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # held for a read and an unlink: milliseconds
        current = read_holder(warehouse)
        if current is not None and current.token == stale.token:
            with contextlib.suppress(FileNotFoundError):
                lease_path(warehouse).unlink()


def acquire(warehouse: Path, *, command: str, project: str) -> Lease:
    """Take the lease of ``warehouse`` for ``command``, or raise ``WarehouseBusy``.

    A stale lease (see the module docstring) is taken over and logged. Raises ``LeaseError``
    when the warehouse folder cannot be written (a read-only disk, no permission): nothing has
    been written then either.
    """
    now = _now()
    holder = _with_times(
        Holder(
            command=command,
            project=project,
            host=socket.gethostname(),
            pid=os.getpid(),
            pid_started=_pid_started(os.getpid()),
            started_at=_iso(now),
            heartbeat_at=_iso(now),
            expires_at=_iso(now),
            token=uuid.uuid4().hex,
        ),
        now,
    )
    path = lease_path(warehouse)
    took_over = None
    try:
        warehouse.mkdir(parents=True, exist_ok=True)
        for _ in range(_ATTEMPTS):
            if _create(path, holder):
                if took_over:
                    log.warning("took over the warehouse lease: %s", took_over)
                return Lease(warehouse, holder, took_over)
            current = read_holder(warehouse)
            if current is None:  # released between our create and our read
                continue
            reason = stale_reason(current)
            if reason is None:
                raise WarehouseBusy(current.describe(warehouse))
            took_over = (
                f"the lease of {current.command} (pid {current.pid} on host {current.host}, "
                f"since {current.since()}) was stale: {reason}"
            )
            _remove_if_same(warehouse, current)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT):
            raise LeaseError(
                f"cannot write to the warehouse {warehouse}: {exc.strerror}; nothing was changed"
            ) from None
        raise
    raise LeaseError(f"could not take the lease {path} after {_ATTEMPTS} attempts")
