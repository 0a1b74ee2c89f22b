"""The `filter` language of WSO2's session search (`GET /sessions?filter=...`): parse, print, match.

The text is read by a small tokenizer and a position-based parser, never by regular
expressions over the whole string. Grammar (session.yaml, `filterQueryParam`):

    filter     = comparison *( "and" comparison )
    comparison = attribute operator value
    value      = bare-word / quoted      ; quoted: "..." with \\" and \\\\ escapes

Attribute names, operators, `and` and values are case-insensitive, as the document says.
Attributes and their operators: `loginId`, `sessionId`, `appName`, `userAgent` (eq, sw, ew,
co), `ipAddress` (eq), `loginTime`, `lastAccessTime` (le, ge, with a number of epoch
milliseconds). Anything else (another attribute or operator, `or`, `not`, parentheses
around expressions, a missing part, an empty value) is a `FilterError`, which the API
answers with 400. Guarantees: `parse(render(f)) == f` for every filter `f`; `matches`
is the documented meaning of each operator.
Tests: tests/properties/test_scim_filter.py, tests/api/test_wso2_search.py.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ledger.projections.deltas import to_us
from ledger.records import SessionRecord

TEXT_OPS = ("eq", "sw", "ew", "co")
TIME_OPS = ("le", "ge")
# Lower-cased name -> (the documented spelling, its operators)
ATTRIBUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "loginid": ("loginId", TEXT_OPS),
    "sessionid": ("sessionId", TEXT_OPS),
    "appname": ("appName", TEXT_OPS),
    "useragent": ("userAgent", TEXT_OPS),
    "ipaddress": ("ipAddress", ("eq",)),
    "logintime": ("loginTime", TIME_OPS),
    "lastaccesstime": ("lastAccessTime", TIME_OPS),
}
TIME_ATTRIBUTES = frozenset({"loginTime", "lastAccessTime"})
SPACE = " \t\r\n"
MAX_FILTER = 2000
DIGITS = re.compile(r"[0-9]{1,18}")


class FilterError(ValueError):
    """A filter this API does not accept; the message says what is wrong."""


@dataclass(frozen=True)
class Comparison:
    """`attribute operator value`: attribute as documented, operator lower case."""

    attribute: str
    operator: str
    value: str


@dataclass(frozen=True)
class Filter:
    """Comparisons joined by `and` (all must hold)."""

    terms: tuple[Comparison, ...]


@dataclass(frozen=True)
class Token:
    """A word of the filter; `quoted` words are always values."""

    text: str
    quoted: bool


def tokenize(text: str) -> list[Token]:
    """The words of `text`: runs of non-space characters, or double-quoted strings."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in SPACE:
            i += 1
        elif text[i] == '"':
            word, i = _quoted(text, i + 1)
            tokens.append(Token(word, quoted=True))
        else:
            start = i
            while i < n and text[i] not in SPACE and text[i] != '"':
                i += 1
            tokens.append(Token(text[start:i], quoted=False))
    return tokens


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The string starting after an opening quote at `i`, and the index after its close."""
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\":
            if i + 1 >= len(text) or text[i + 1] not in '"\\':
                raise FilterError('in a quoted value only \\" and \\\\ are escapes')
            char, i = text[i + 1], i + 1
        out.append(char)
        i += 1
    raise FilterError("a quoted value is not closed")


def parse(text: str) -> Filter:
    """The filter in `text`, or FilterError saying why it is not one."""
    if len(text) > MAX_FILTER:
        raise FilterError(f"the filter is longer than {MAX_FILTER} characters")
    tokens = tokenize(text)
    if not tokens:
        raise FilterError("the filter is empty")
    terms: list[Comparison] = []
    i = 0
    while True:
        if len(tokens) - i < 3:
            raise FilterError("expected `attribute operator value`")
        terms.append(_comparison(tokens[i : i + 3]))
        i += 3
        if i == len(tokens):
            return Filter(tuple(terms))
        joiner = tokens[i]
        if joiner.quoted or joiner.text.lower() != "and":
            raise FilterError(f"expected `and` between expressions, got {joiner.text!r}")
        i += 1


def _comparison(words: list[Token]) -> Comparison:
    """One checked comparison from its three words."""
    attribute, operator, value = words
    known = None if attribute.quoted else ATTRIBUTES.get(attribute.text.lower())
    if known is None:
        raise FilterError(f"{attribute.text!r} is not a valid filter attribute name")
    name, operators = known
    op = operator.text.lower()
    if operator.quoted or op not in operators:
        raise FilterError(f"{operator.text!r} is not a supported operation for {name}")
    if not value.text:
        raise FilterError(f"the value for {name} is empty")
    if name in TIME_ATTRIBUTES and not DIGITS.fullmatch(value.text):
        raise FilterError(f"{name}'s value is not a valid number: {value.text!r}")
    return Comparison(name, op, value.text)


def render(f: Filter) -> str:
    """`f` as filter text (quoting values only where needed); `parse` reads it back."""
    return " and ".join(f"{t.attribute} {t.operator} {_value_text(t.value)}" for t in f.terms)


def _value_text(value: str) -> str:
    if value and not any(c in SPACE or c in '"\\' for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ms(moment_us: int) -> int:
    """Epoch milliseconds of a time in epoch microseconds (rounded down)."""
    return moment_us // 1000


def _text_match(actual: str | None, term: Comparison) -> bool:
    if actual is None:
        return False
    have, want, op = actual.casefold(), term.value.casefold(), term.operator
    if op == "eq":
        return have == want
    if op == "sw":
        return have.startswith(want)
    if op == "ew":
        return have.endswith(want)
    return want in have


def _same_ip(actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    try:
        return ipaddress.ip_address(actual) == ipaddress.ip_address(wanted)
    except ValueError:
        return actual.casefold() == wanted.casefold()


def app_name(app: dict[str, str]) -> str:
    """An application's `appName`: its name, or its id when the IdP gave no name."""
    return app.get("name") or app["id"]


def holds(term: Comparison, record: SessionRecord) -> bool:
    """Whether `record` satisfies one comparison."""
    name, op, value = term.attribute, term.operator, term.value
    if name in TIME_ATTRIBUTES:
        moment = record.started_at if name == "loginTime" else record.last_active_at
        have, want = ms(to_us(moment)), int(value)
        return have <= want if op == "le" else have >= want
    if name == "ipAddress":
        return _same_ip(record.ip, value)
    if name == "appName":
        return any(_text_match(app_name(app), term) for app in record.applications)
    actual = {"loginId": record.user_id, "sessionId": record.id, "userAgent": record.user_agent}
    return _text_match(actual[name], term)


def matches(f: Filter | None, record: SessionRecord) -> bool:
    """Whether `record` satisfies every comparison of `f` (no filter: always)."""
    return f is None or all(holds(t, record) for t in f.terms)


def login_bounds(f: Filter | None) -> tuple[int | None, int | None]:
    """The tightest (lowest, highest) login time in ms the filter allows (None: unbounded)."""
    low: int | None = None
    high: int | None = None
    for t in f.terms if f else ():
        if t.attribute == "loginTime":
            if t.operator == "ge":
                low = int(t.value) if low is None else max(low, int(t.value))
            else:
                high = int(t.value) if high is None else min(high, int(t.value))
    return low, high


def exact_ip(f: Filter | None) -> str | None:
    """The canonical IP address an `ipAddress eq` comparison names (None when none does)."""
    for t in f.terms if f else ():
        if t.attribute == "ipAddress":
            try:
                return str(ipaddress.ip_address(t.value))
            except ValueError:
                continue
    return None
