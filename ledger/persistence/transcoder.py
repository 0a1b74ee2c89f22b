"""An orjson transcoder for stored events, compatible with the library's `JSONTranscoder`.

Objects orjson would flatten (tuples, UUIDs, datetimes, subclasses of str/int/dict/list) are
tagged `{"_type_": name, "_data_": ...}` by registered transcodings, so they decode back to
the same type. The library's `TranscoderTestCase` runs against it:
tests/unit/test_transcoder.py.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

_NATIVE = (str, int, float, bool, type(None))
_CONTAINERS = frozenset({dict, list})


class TupleAsList(Transcoding):
    """Tuples survive the round trip (JSON has only arrays)."""

    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


class OrjsonTranscoder(Transcoder):
    """Encodes event state as compact UTF-8 JSON with orjson; extensible like JSONTranscoder."""

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr(), TupleAsList()):
            self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        """Registers a transcoding for a type that JSON does not carry natively."""
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        """Encodes `obj` as JSON bytes."""
        return orjson.dumps(self._encode(obj))

    def decode(self, data: bytes) -> Any:
        """Decodes JSON bytes made by `encode` (or by the library's JSONTranscoder)."""
        obj = orjson.loads(data)
        if b'"_type_"' not in data:
            return obj
        return self._decode(obj)

    def _encode(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _NATIVE:
            return obj
        if kind is dict:
            return {key: self._encode(value) for key, value in obj.items()}
        if kind is list:
            return [self._encode(value) for value in obj]
        transcoding = self.types.get(kind)
        if transcoding is None:
            msg = (
                f"Object of type {kind} is not serializable. Please define and register "
                "a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return {"_type_": transcoding.name, "_data_": self._encode(transcoding.encode(obj))}

    def _decode(self, obj: Any) -> Any:
        # `obj` is fresh from orjson.loads: containers are rewritten in place, and only
        # containers are visited (scalars cannot hold a tag).
        kind = type(obj)
        if kind is dict:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                name = obj["_type_"]
                transcoding = self.names.get(name)
                if transcoding is None:
                    msg = (
                        f"Data serialized with name '{name}' is not deserializable. "
                        "Please register a custom transcoding for this type."
                    )
                    raise TranscodingNotRegisteredError(msg)
                return transcoding.decode(self._decode(obj["_data_"]))
            for key, value in obj.items():
                if type(value) in _CONTAINERS:
                    obj[key] = self._decode(value)
            return obj
        if kind is list:
            for index, value in enumerate(obj):
                if type(value) in _CONTAINERS:
                    obj[index] = self._decode(value)
        return obj
