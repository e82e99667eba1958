"""Query-string encoding for connect parameters (sans-IO; see protocol.md §1.4).

Natural Python values become what Deepgram expects:

=================================  ==========================================
Python value                       on the wire
=================================  ==========================================
``True`` / ``False``               ``true`` / ``false``
``int``, ``float``                 ``str(value)`` (non-finite floats refused)
``str``                            as given (strings from the official SDK's
                                   examples, ``"true"`` or ``"16000"``, pass
                                   through unchanged)
a sequence                         the key repeated once per item
a mapping (``extra``, ``replace``,  the key repeated once per entry, as
``keywords``)                      ``key:value``
``None``                           omitted
=================================  ==========================================

Percent-encoding is ``urllib.parse.quote_plus``, as the official SDK does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias
from urllib.parse import quote_plus

from ._errors import ConfigurationError

__all__ = ["QueryParams", "QueryValue", "Scalar", "encode_query", "query_pairs"]

Scalar: TypeAlias = str | int | float | bool
#: What a connect parameter may be given as.
QueryValue: TypeAlias = Scalar | Sequence[Scalar] | Mapping[str, Scalar] | None
QueryParams: TypeAlias = Mapping[str, QueryValue]


def _scalar(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigurationError(f"query parameter {key}={value!r}: must be a finite number")
        return repr(value)
    if isinstance(value, str):
        return value
    raise ConfigurationError(
        f"query parameter {key}: expected a string, number or boolean, got {type(value).__name__}"
    )


def query_pairs(params: Iterable[tuple[str, QueryValue]]) -> list[tuple[str, str]]:
    """Flatten parameters into ``(key, text)`` pairs in the order given.

    Raises:
        ConfigurationError: A value has a type that cannot be encoded.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params:
        if value is None:
            continue
        if isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                if not isinstance(sub_key, str):
                    raise ConfigurationError(f"query parameter {key}: mapping keys must be strings")
                if sub_value is None:
                    continue  # as for None items of a list
                pairs.append((key, f"{sub_key}:{_scalar(key, sub_value)}"))
        elif isinstance(value, (str, bytes, bytearray, memoryview)) or not isinstance(
            value, Iterable
        ):
            pairs.append((key, _scalar(key, value)))
        else:
            for item in value:
                if item is None:
                    continue
                pairs.append((key, _scalar(key, item)))
    return pairs


def encode_query(params: Iterable[tuple[str, QueryValue]]) -> str:
    """Encode parameters as a query string (without the leading ``?``)."""
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in query_pairs(params))
