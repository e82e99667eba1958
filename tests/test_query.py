"""Query-string encoding of connect parameters (protocol.md §1.4, ``dgtrio/_query.py``).

The properties compare :func:`query_pairs` and :func:`encode_query` with an
independent model of the documented rules: booleans are ``true``/``false``,
numbers are their shortest text, strings pass through unchanged, sequences
repeat the key, mappings become ``key:value`` pairs, ``None`` vanishes. The
wire form is checked by decoding it with :func:`urllib.parse.parse_qsl`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio import ConfigurationError
from dgtrio._query import encode_query, query_pairs

SETTINGS = settings(deadline=None)

KEYS = st.text(min_size=1, max_size=12)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.one_of(st.booleans(), st.integers(), FINITE, st.text(max_size=20))
VALUES = st.one_of(
    st.none(),
    SCALARS,
    st.lists(st.none() | SCALARS, max_size=4),
    st.lists(SCALARS, max_size=4).map(tuple),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
)
PARAMS = st.lists(st.tuples(KEYS, VALUES), max_size=8)


def scalar_text(value: Any) -> str:
    """The documented text of one scalar (an independent model of ``_query``)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        text = str(value)
        assert float(text) == value  # shortest round-tripping form
        return text
    return str(value)


def expected_pairs(params: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params:
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs += [(key, f"{k}:{scalar_text(v)}") for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            pairs += [(key, scalar_text(v)) for v in value if v is not None]
        else:
            pairs.append((key, scalar_text(value)))
    return pairs


@SETTINGS
@given(params=PARAMS)
def test_pairs_follow_the_documented_rules_in_order(params: list[tuple[str, Any]]) -> None:
    assert query_pairs(params) == expected_pairs(params)


@SETTINGS
@given(params=PARAMS)
def test_the_wire_form_decodes_back_to_the_pairs(params: list[tuple[str, Any]]) -> None:
    query = encode_query(params)
    assert parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)) == expected_pairs(
        params
    )
    # Nothing on the wire needs escaping any more: quote_plus has done it all.
    assert " " not in query
    assert query.count("=") == len(expected_pairs(params))


@SETTINGS
@given(key=KEYS, text=st.text())
def test_strings_pass_through_unchanged(key: str, text: str) -> None:
    assert query_pairs([(key, text)]) == [(key, text)]
    assert parse_qsl(encode_query([(key, text)]), keep_blank_values=True) == [(key, text)]


def test_strings_from_the_official_sdk_examples_are_not_reinterpreted() -> None:
    params = [("interim_results", "true"), ("sample_rate", "16000"), ("extra", "k:v")]
    assert query_pairs(params) == params


def test_the_wire_form_of_each_kind_of_value() -> None:
    assert encode_query([("interim_results", True), ("punctuate", False)]) == (
        "interim_results=true&punctuate=false"
    )
    assert encode_query([("endpointing", 300), ("eot_threshold", 0.7)]) == (
        "endpointing=300&eot_threshold=0.7"
    )
    assert encode_query([("eot_threshold", 1.0)]) == "eot_threshold=1.0"
    assert encode_query([("keyterm", "customer service")]) == "keyterm=customer+service"
    assert encode_query([("keyterm", ["a b", "c"]), ("redact", ("pci", "ssn"))]) == (
        "keyterm=a+b&keyterm=c&redact=pci&redact=ssn"
    )
    assert encode_query([("extra", {"foo": "bar", "n": 2, "b": True})]) == (
        "extra=foo%3Abar&extra=n%3A2&extra=b%3Atrue"
    )
    with_none_items: Any = [True, 1, 1.5, None, "x"]  # None items are skipped, like None values
    assert encode_query([("tag", with_none_items)]) == "tag=true&tag=1&tag=1.5&tag=x"
    only_none: Any = [None]
    assert encode_query([("a", None), ("b", []), ("c", {}), ("d", only_none)]) == ""
    assert encode_query([("search", "")]) == "search="
    assert encode_query([("q", "a&b=c+d%")]) == "q=a%26b%3Dc%2Bd%25"
    assert encode_query([]) == ""


@SETTINGS
@given(key=KEYS, value=st.booleans())
def test_booleans_are_lowercase_words(key: str, value: bool) -> None:
    assert query_pairs([(key, value)]) == [(key, "true" if value else "false")]
    assert query_pairs([(key, [value])]) == [(key, "true" if value else "false")]


@SETTINGS
@given(key=KEYS, value=FINITE)
def test_floats_round_trip_exactly(key: str, value: float) -> None:
    [(_, text)] = query_pairs([(key, value)])
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)  # -0.0 stays negative


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("shape", ["scalar", "list", "tuple", "mapping"])
def test_non_finite_floats_are_refused(value: float, shape: str) -> None:
    wrapped: Any = {
        "scalar": value,
        "list": [1, value],
        "tuple": (value,),
        "mapping": {"k": value},
    }[shape]
    with pytest.raises(ConfigurationError, match="eot_threshold"):
        query_pairs([("eot_threshold", wrapped)])
    with pytest.raises(ConfigurationError):
        encode_query([("eot_threshold", wrapped)])


@pytest.mark.parametrize(
    "value",
    [
        b"bytes",
        object(),
        1j,
        Decimal("1.5"),
        Fraction(1, 3),
        [b"x"],
        [[1, 2]],
        [{"a": 1}],
        [object()],
        {"k": b"v"},
        {"k": [1]},
        {"k": {"a": 1}},
        {1: "v"},
    ],
    ids=repr,
)
def test_unsupported_types_are_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="model"):
        query_pairs([("model", value)])
    with pytest.raises(ConfigurationError):
        encode_query([("ok", 1), ("model", value)])


@pytest.mark.parametrize(
    "value", [bytearray(b"x"), memoryview(b"x")], ids=["bytearray", "memoryview"]
)
def test_bytes_like_values_are_refused_like_bytes(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="model"):
        query_pairs([("model", value)])


def test_configuration_errors_are_value_errors() -> None:
    # Callers catching ValueError for bad arguments keep working.
    with pytest.raises(ValueError, match="finite"):
        query_pairs([("x", math.nan)])
