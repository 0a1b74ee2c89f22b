"""The orjson transcoder passes the library's own transcoder test case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Transcoder, Transcoding
from eventsourcing.tests import persistence as library_cases
from eventsourcing.tests.persistence import (
    CustomType1AsDict,
    CustomType2AsDict,
    Mydict,
    MyInt,
    MyList,
    MyStr,
)

from ledger.persistence.transcoder import OrjsonTranscoder


class _Subclass(Transcoding):
    def __init__(self, kind: type, name: str, base: type) -> None:
        self.type, self.name, self.base = kind, name, base

    def encode(self, obj: Any) -> Any:
        return self.base(obj)

    def decode(self, data: Any) -> Any:
        return self.type(data)


class TestOrjsonTranscoder(library_cases.TranscoderTestCase):
    """The library's TranscoderTestCase, unchanged, against OrjsonTranscoder."""

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        transcoder.register(CustomType1AsDict())
        transcoder.register(CustomType2AsDict())
        transcoder.register(_Subclass(Mydict, "mydict", dict))
        transcoder.register(_Subclass(MyList, "mylist", list))
        transcoder.register(_Subclass(MyStr, "mystr", str))
        transcoder.register(_Subclass(MyInt, "myint", int))
        return transcoder


def test_event_state_round_trips_with_datetimes_and_uuids() -> None:
    state = {
        "at": datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "id": UUID("b2723fe2c01a40d2875ea3aac6a09ff5"),
        "apps": [{"id": "mail", "name": "Mail"}],
        "ip": None,
    }
    transcoder = OrjsonTranscoder()
    assert transcoder.decode(transcoder.encode(state)) == state


def test_it_reads_what_the_library_json_transcoder_wrote() -> None:
    legacy = JSONTranscoder()
    from eventsourcing.persistence import DatetimeAsISO, UUIDAsHex

    legacy.register(DatetimeAsISO())
    legacy.register(UUIDAsHex())
    state = {"at": datetime(2026, 3, 1, tzinfo=UTC), "id": UUID(int=5), "name": "é"}
    assert OrjsonTranscoder().decode(legacy.encode(state)) == state
