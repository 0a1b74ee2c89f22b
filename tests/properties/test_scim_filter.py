"""Properties of the WSO2 session-search filter parser (`ledger.api.scim_filter`).

1. Printing then parsing gives back the same filter, for any attributes, operators and
   values (spaces, quotes, backslashes, `and`, any Unicode); printing is stable.
2. Attribute names, operators and `and` are read case-insensitively.
3. Any text at all either parses or is refused with FilterError (never another exception).
4. Evaluation equals a plain-Python predicate over random sessions. The predicate works
   from the generated (attribute, operator, value) triples, not from the parser's output,
   and the text the parser reads is written by the test's own printer (always quoting),
   so the parser, the printer and the evaluator are each checked against code they do not
   share. Values are often drawn from the session's own fields, so matches are common
   (`hypothesis --hypothesis-show-statistics` shows the split); explicit examples make sure
   both outcomes always occur.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from ledger.api.scim_filter import (
    ATTRIBUTES,
    Comparison,
    Filter,
    FilterError,
    matches,
    parse,
    render,
)
from ledger.records import SessionRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEXT_ATTRS = ["loginId", "sessionId", "appName", "userAgent"]
OPS = dict(ATTRIBUTES.values())
VALUES = st.text(min_size=1, max_size=12)
MS = st.integers(min_value=0, max_value=4_102_444_800_000)  # up to 2100


def comparisons() -> st.SearchStrategy[Comparison]:
    text = st.builds(
        Comparison, st.sampled_from(TEXT_ATTRS), st.sampled_from(["eq", "sw", "ew", "co"]), VALUES
    )
    ip = st.builds(Comparison, st.just("ipAddress"), st.just("eq"), VALUES)
    times = st.builds(
        Comparison,
        st.sampled_from(["loginTime", "lastAccessTime"]),
        st.sampled_from(["le", "ge"]),
        MS.map(str),
    )
    return st.one_of(text, ip, times)


FILTERS = st.lists(comparisons(), min_size=1, max_size=4).map(lambda t: Filter(tuple(t)))


@given(FILTERS)
def test_print_then_parse_gives_back_the_filter(f: Filter) -> None:
    text = render(f)
    assert parse(text) == f
    assert render(parse(text)) == text


@given(FILTERS, st.randoms(use_true_random=False))
def test_names_operators_and_and_are_case_insensitive(f: Filter, rnd: Any) -> None:
    def shuffle_case(word: str) -> str:
        return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in word)

    parts = [
        f"{shuffle_case(t.attribute)} {shuffle_case(t.operator)} {quote(t.value)}" for t in f.terms
    ]
    assert parse(f" {shuffle_case('and')} ".join(parts)) == f


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_with_a_filter_error(text: str) -> None:
    try:
        f = parse(text)
    except FilterError:
        return
    assert f.terms and all(t.operator in OPS[t.attribute] for t in f.terms)


def quote(value: str) -> str:
    """The test's own printer: every value quoted."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def sessions(draw: st.DrawFn) -> SessionRecord:
    started = EPOCH + timedelta(microseconds=draw(st.integers(0, 4_102_444_800_000_000)))
    name = st.none() | st.text(min_size=1, max_size=8)
    apps = draw(st.lists(st.tuples(st.text(min_size=1, max_size=6), name), max_size=2))
    ip = draw(st.none() | st.ip_addresses().map(str))
    return SessionRecord(
        id=draw(st.text(min_size=1, max_size=10)),
        tenant="t",
        user_id=draw(st.text(min_size=1, max_size=10)),
        started_at=started,
        last_active_at=started + timedelta(microseconds=draw(st.integers(0, 10**10))),
        expires_at=started + timedelta(days=1),
        ip=ip,
        user_agent=draw(st.none() | st.text(max_size=20)),
        applications=[{"id": i, "name": n} if n else {"id": i} for i, n in apps],
    )


def field_values(s: SessionRecord, attribute: str) -> list[str]:
    """What the documented attribute names in a session (appName: every application's)."""
    if attribute == "loginId":
        return [s.user_id]
    if attribute == "sessionId":
        return [s.id]
    if attribute == "userAgent":
        return [] if s.user_agent is None else [s.user_agent]
    if attribute == "ipAddress":
        return [] if s.ip is None else [s.ip]
    return [a.get("name") or a["id"] for a in s.applications]


def millis(moment: datetime) -> int:
    delta = moment - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def predicate(triples: list[tuple[str, str, str]], s: SessionRecord) -> bool:
    """The documented meaning of the filter, written plainly."""
    for attribute, op, value in triples:
        if attribute in ("loginTime", "lastAccessTime"):
            have = millis(s.started_at if attribute == "loginTime" else s.last_active_at)
            if not (have <= int(value) if op == "le" else have >= int(value)):
                return False
            continue
        if attribute == "ipAddress":
            try:
                wanted = ipaddress.ip_address(value)
                ok = any(ipaddress.ip_address(v) == wanted for v in field_values(s, attribute))
            except ValueError:
                ok = any(v.casefold() == value.casefold() for v in field_values(s, attribute))
            if not ok:
                return False
            continue
        test: Callable[[str, str], bool] = {
            "eq": lambda have, want: have == want,
            "sw": lambda have, want: have[: len(want)] == want,
            "ew": lambda have, want: (
                len(have) >= len(want) and have[len(have) - len(want) :] == want
            ),
            "co": lambda have, want: want in have,
        }[op]
        if not any(test(v.casefold(), value.casefold()) for v in field_values(s, attribute)):
            return False
    return True


@st.composite
def filter_and_session(draw: st.DrawFn) -> tuple[list[tuple[str, str, str]], SessionRecord]:
    s = draw(sessions())
    triples = []
    for _ in range(draw(st.integers(1, 3))):
        attribute = draw(st.sampled_from([*TEXT_ATTRS, "ipAddress", "loginTime", "lastAccessTime"]))
        op = draw(st.sampled_from(OPS[attribute]))
        if attribute in ("loginTime", "lastAccessTime"):
            have = millis(s.started_at if attribute == "loginTime" else s.last_active_at)
            value = str(max(0, draw(st.sampled_from([have, have - 1, have + 1]) | MS)))
        else:
            own = field_values(s, attribute)
            picks = [v for v in own if v]
            if len(picks) > 0 and draw(st.booleans()):
                whole = draw(st.sampled_from(picks))
                cut = draw(st.integers(1, len(whole)))
                value = draw(st.sampled_from([whole, whole[:cut], whole[-cut:], whole[1:-1]]))
                value = value or whole
                value = value.swapcase() if draw(st.booleans()) else value
            else:
                value = draw(VALUES)
        triples.append((attribute, op, value))
    return triples, s


EXAMPLE = SessionRecord(
    id="30e775bc", tenant="t", user_id="john", started_at=EPOCH + timedelta(days=18000),
    last_active_at=EPOCH + timedelta(days=18000), expires_at=EPOCH + timedelta(days=18001),
    ip="127.0.0.1", user_agent="Mozilla/5.0 Chrome/90", applications=[{"id": "4", "name": "avis"}],
)  # fmt: skip


@example(([("loginId", "eq", "JOHN"), ("userAgent", "co", "chrome")], EXAMPLE))  # a match
@example(([("appName", "sw", "travel")], EXAMPLE))  # not a match
@given(filter_and_session())
def test_evaluation_equals_a_plain_predicate(
    case: tuple[list[tuple[str, str, str]], SessionRecord],
) -> None:
    triples, s = case
    text = " and ".join(f"{a} {o} {quote(v)}" for a, o, v in triples)
    expected = predicate(triples, s)
    assert matches(parse(text), s) is expected
    event(f"matches: {expected}")
