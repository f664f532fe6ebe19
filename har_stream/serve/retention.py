"""Media retention: delete snapshots and clips by age, then oldest first down to a total size.

Only files under the media folder's ``snapshots/`` and ``clips/`` are considered (the event database is not
media). Never deleted: the files of alerts that are still open (the store knows them), and files written in
the last :data:`FRESH_S` seconds (a clip being encoded, a snapshot whose alert is not stored yet). Deleted
files are forgotten by the store, so the API stops offering them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from har_stream.config.site import RetentionConfig
from har_stream.serve.media import SERVED_FOLDERS
from har_stream.store import EventStore, StoreError

log = logging.getLogger(__name__)

#: Files younger than this are never deleted: they may still be written or not yet known to the store.
FRESH_S = 60.0
DAY_S = 86_400.0
GB = 1_000_000_000


@dataclass(frozen=True)
class MediaFile:
    """One snapshot or clip: its path relative to the media folder, size in bytes, modification time."""

    relative: str
    size: int
    mtime: float


@dataclass
class PruneReport:
    """What one clean-up did."""

    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    remaining_bytes: int = 0
    #: Files kept although over a limit: they belong to open alerts or are still fresh.
    protected: int = 0
    #: Whether the media is still above ``max_gb`` (only protected files are left to delete).
    over_size: bool = False


def scan_media(root: Path) -> list[MediaFile]:
    """Every regular file under ``root``'s served media folders (symlinks are not followed nor counted)."""
    files = []
    for folder in sorted(SERVED_FOLDERS):
        base = root / folder
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                stat = path.stat()
            except OSError:  # deleted meanwhile
                continue
            files.append(MediaFile(path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime))
    return files


def choose_deletions(
    files: list[MediaFile], keep: set[str], config: RetentionConfig, now: float
) -> tuple[list[MediaFile], int]:
    """The files to delete, oldest first, and how many over-limit files were kept because of ``keep``/freshness.

    First every file older than ``max_age_days``, then the oldest remaining ones until the total is at most
    ``max_gb``; files in ``keep`` (relative paths) and files younger than :data:`FRESH_S` are skipped.
    """

    def protected(f: MediaFile) -> bool:
        return f.relative in keep or now - f.mtime < FRESH_S

    ordered = sorted(files, key=lambda f: (f.mtime, f.relative))
    chosen: list[MediaFile] = []
    spared: set[str] = set()
    if config.max_age_days is not None:
        cutoff = now - config.max_age_days * DAY_S
        for f in ordered:
            if f.mtime < cutoff:
                if protected(f):
                    spared.add(f.relative)
                else:
                    chosen.append(f)
    if config.max_gb is not None:
        limit = config.max_gb * GB
        deleted = {f.relative for f in chosen}
        total = sum(f.size for f in files if f.relative not in deleted)
        for f in ordered:
            if total <= limit:
                break
            if f.relative in deleted:
                continue
            if protected(f):
                spared.add(f.relative)
                continue
            chosen.append(f)
            deleted.add(f.relative)
            total -= f.size
    return chosen, len(spared)


class MediaPruner:
    """Applies a :class:`RetentionConfig` to a media folder: :meth:`prune` once, or :meth:`start` a thread that
    prunes at once and then every ``interval_s`` seconds until :meth:`stop`."""

    def __init__(self, media_root: Path, store: EventStore, config: RetentionConfig) -> None:
        self.media_root = Path(media_root)
        self.store = store
        self.config = config
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune(self, now: float | None = None) -> PruneReport:
        """Delete what the limits say, keep what open alerts need; the store forgets the deleted files."""
        now = time.time() if now is None else now
        files = scan_media(self.media_root)
        chosen, spared = choose_deletions(files, self.store.open_media(), self.config, now)
        report = PruneReport(protected=spared)
        for f in chosen:
            if self._stop.is_set() and self._thread is not None:
                break  # shutting down: the rest waits for the next start
            try:
                (self.media_root / f.relative).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("media retention: cannot delete %s: %s", f.relative, exc)
                continue
            report.deleted.append(f.relative)
            report.freed_bytes += f.size
        if report.deleted:
            try:
                self.store.forget_media(report.deleted)
            except StoreError as exc:
                log.error("media retention: %s", exc)
        report.remaining_bytes = sum(f.size for f in files) - report.freed_bytes
        report.over_size = self.config.max_gb is not None and report.remaining_bytes > self.config.max_gb * GB
        self.runs += 1
        if report.deleted:
            log.info(
                "media retention: deleted %d files (%.1f MB); snapshots and clips now take %.1f MB",
                len(report.deleted), report.freed_bytes / 1e6, report.remaining_bytes / 1e6,
            )  # fmt: skip
        if report.over_size:
            log.warning(
                "media retention: snapshots and clips take %.2f GB, above max_gb %.2f: the %d files left over "
                "the limit belong to open alerts or were just written",
                report.remaining_bytes / GB, self.config.max_gb, spared,
            )  # fmt: skip
        return report

    # -- background thread ---------------------------------------------------------------------------
    def start(self) -> MediaPruner:
        """Prune now and every ``interval_s`` seconds on a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="media-retention", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background thread (a clean-up in progress ends after the file it is deleting)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the background thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.prune()
            except Exception:  # a failed clean-up is retried next time; the site goes on
                log.exception("media retention failed")
            if self._stop.wait(self.config.interval_s):
                return
