"""One reader of the log for every projection a process runs: each event read and decoded once.

The library's runner gives each projection its own subscription: with three views and an
outbox, a process read every notification four times and decoded it up to four times, and
that was most of a busy ledger's CPU. Here one library runner (`BaseProjectionRunner`) follows
the log for all of them:

* `FanOut` is the one library `Projection` the runner feeds. It hands each event to every
  member whose own tracking position is below it: the decoded event to a member that consumes
  its topic, a `Skipped` marker (built once per event) to the others, so every member's
  tracking still follows the whole log.
* `Starts` is what the runner asks where to start: the lowest tracking position of the
  members. A member that is ahead (it ran alone, or was rebuilt) ignores what it has already.

Each member keeps its own view, its own transactions and its own tracking position: exactly
once per member, as before. Tests: tests/integration/test_shared_reader.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from ledger.projections.feed import Skipped


@dataclass
class Member:
    """One projection fed by the shared reader, and where its view's tracking stood."""

    name: str
    projection: Projection[Any]
    consumes: frozenset[str]
    after: int


class Starts(TrackingRecorder):
    """The members' tracking, as the runner sees it: the reader starts after the lowest."""

    def __init__(self, members: Sequence[Member]) -> None:
        self.members = members

    def max_tracking_id(self, application_name: str) -> int | None:
        """The lowest position any member has processed (None: one has processed nothing)."""
        lowest = min(member.after for member in self.members)
        return lowest or None

    def insert_tracking(self, tracking: Tracking) -> None:
        """Never called: each member writes its own tracking with its own rows."""
        msg = "the shared reader's members record their own tracking"
        raise NotImplementedError(msg)


_TOPICS: dict[type[Any], str] = {}


def topic_of(event: Any) -> str:
    """The topic of a decoded event or of a `Skipped` marker (cached per class)."""
    if type(event) is Skipped:
        return event.topic
    cls = type(event)
    topic = _TOPICS.get(cls)
    if topic is None:
        topic = _TOPICS[cls] = get_topic(cls)
    return topic


class FanOut(Projection[Starts]):
    """Hands each event of the log to every member that has not processed it yet."""

    name = "shared_reader"

    def __init__(self, view: Starts) -> None:
        super().__init__(view)
        self.members = list(view.members)

    @property
    def error(self) -> BaseException | None:
        """The first failure of a member's writer (the supervisor restarts the reader)."""
        for member in self.members:
            error = getattr(member.projection, "error", None)
            if error is not None:
                return error  # type: ignore[no-any-return]
        return None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Give the event, or a `Skipped` marker, to each member still behind it."""
        position = tracking.notification_id
        topic = topic_of(domain_event)
        skipped: Skipped | None = domain_event if type(domain_event) is Skipped else None
        for member in self.members:
            if position <= member.after:
                continue
            if topic in member.consumes:
                member.projection.process_event(domain_event, tracking)
                continue
            if skipped is None:
                skipped = Skipped(
                    domain_event.originator_id, domain_event.originator_version, topic
                )
            member.projection.process_event(skipped, tracking)

    def close(self) -> None:
        """Let every member apply what it has buffered and stop."""
        for member in self.members:
            close = getattr(member.projection, "close", None)
            if close is not None:
                close()
