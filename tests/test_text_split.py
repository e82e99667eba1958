"""split_text and SpeakLimits: the sans-IO text helpers of /v1/speak."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio.speak._text import (
    FLUSH_LIMIT,
    SPEAK_CHAR_LIMIT,
    SPEAK_CHARS_PER_WINDOW,
    WINDOW,
    SpeakLimits,
    split_text,
)

SETTINGS = settings(max_examples=150, deadline=None)

# Text with the characters that matter to the splitter: letters, spaces, line
# breaks, tabs, sentence ends, closers, CJK stops, and something exotic.
ALPHABET = "ab .!?\n\t\"')\u3002\uff01\u2026\u00e9\u4f60"
texts = st.text(st.sampled_from(ALPHABET), max_size=120) | st.text(max_size=60)
limits = st.integers(min_value=1, max_value=40)


def _cuts(pieces: list[str]) -> list[int]:
    positions, at = [], 0
    for piece in pieces[:-1]:
        at += len(piece)
        positions.append(at)
    return positions


def _after_cjk_stop(text: str, i: int) -> bool:
    """Whether ``text[:i]`` ends with a CJK full stop, possibly followed by closers."""
    j = i - 1
    while j >= 0 and text[j] in "\"')":
        j -= 1
    return j >= 0 and text[j] in "\u3002\uff01\uff1f"


def _run_length(text: str, i: int) -> int:
    """Length of the run of non-whitespace characters around the cut at ``i``."""
    left = i
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    right = i
    while right < len(text) and not text[right].isspace():
        right += 1
    return right - left


# --- the guarantees, as properties ---------------------------------------------------


@SETTINGS
@given(texts, limits)
def test_pieces_rebuild_the_text_and_respect_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= limit for piece in pieces)
    if len(text) <= limit:
        assert pieces == ([text] if text else [])


@SETTINGS
@given(texts, limits)
def test_words_are_only_cut_when_longer_than_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    for i in _cuts(pieces):
        if not (text[i - 1].isspace() or text[i].isspace() or _after_cjk_stop(text, i)):
            assert _run_length(text, i) > limit, (text, pieces, i)


word = st.text(st.sampled_from("abcdefgh"), min_size=1, max_size=8)
sentence = st.lists(word, min_size=1, max_size=6).map(lambda ws: " ".join(ws) + ".")


@SETTINGS
@given(st.lists(sentence, min_size=1, max_size=12), st.integers(0, 20))
def test_sentences_are_kept_whole_when_they_fit(sentences: list[str], slack: int) -> None:
    text = " ".join(sentences)
    limit = max(len(s) for s in sentences) + 1 + slack
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    for piece, following in itertools.pairwise(pieces):
        assert piece.endswith(". "), pieces
        # Greedy: the next piece's first sentence, with the space that would
        # have come with it, would not have fitted.
        end = following.find(". ")
        first = following if end < 0 else following[: end + 2]
        assert len(piece) + len(first) > limit, (piece, following, limit)


@SETTINGS
@given(st.lists(word, min_size=1, max_size=30), st.integers(0, 10))
def test_words_are_kept_whole_when_there_is_no_sentence_end(words: list[str], slack: int) -> None:
    text = " ".join(words)
    limit = max(len(w) for w in words) + 1 + slack
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    for piece, following in itertools.pairwise(pieces):
        assert piece.endswith(" ")
        assert not following.startswith(" ")
        end = following.find(" ")
        next_word = following if end < 0 else following[: end + 1]
        assert len(piece) + len(next_word) > limit


# --- examples -------------------------------------------------------------------------


def test_examples() -> None:
    assert split_text("") == []
    assert split_text("Short.") == ["Short."]
    assert split_text("Hello there. How are you today? I am fine.", 20) == [
        "Hello there. ",
        "How are you today? ",
        "I am fine.",
    ]
    # A sentence boundary wins over a longer piece ending at a word.
    assert split_text("One. Two three four five", 16) == ["One. ", "Two three four ", "five"]
    # Closing quotes and brackets stay with their sentence.
    assert split_text('He said "Stop." Then he left.', 18) == ['He said "Stop." ', "Then he left."]
    # A line break is a sentence boundary.
    assert split_text("line one\nline two is long", 15) == ["line one\n", "line two is ", "long"]
    # Scripts without spaces split after their full stops.
    assert split_text("\u4f60\u597d\u3002\u6211\u5f88\u597d\uff01\u8c22\u8c22", 4) == [
        "\u4f60\u597d\u3002",
        "\u6211\u5f88\u597d\uff01",
        "\u8c22\u8c22",
    ]
    # Only a word longer than the limit is cut, right at the limit.
    assert split_text("x" * 25 + " end", 10) == ["x" * 10, "x" * 10, "xxxxx end"]
    assert split_text("x" * 25 + " ending", 10) == ["x" * 10, "x" * 10, "xxxxx ", "ending"]
    # A decimal point is not a sentence end.
    assert split_text("Pi is 3.14159 roughly", 12) == ["Pi is ", "3.14159 ", "roughly"]


def test_default_limit_is_the_speak_limit() -> None:
    assert SPEAK_CHAR_LIMIT == 2000
    text = ("All work and no play makes Jack a dull boy. " * 100).strip()
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.endswith(". ") for p in pieces[:-1])
    assert len(pieces) == 3


def test_invalid_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_text("abc", 0)


# --- SpeakLimits ----------------------------------------------------------------------


def test_defaults_are_deepgrams_limits() -> None:
    limits = SpeakLimits()
    assert (limits.max_chars, limits.max_flushes, limits.window) == (2400, 20, 60.0)
    assert (SPEAK_CHARS_PER_WINDOW, FLUSH_LIMIT, WINDOW) == (2400, 20, 60.0)


def test_chars_delay() -> None:
    limits = SpeakLimits()
    assert limits.chars_delay(2400, 0.0) == 0.0
    limits.record_chars(2000, 0.0)
    assert limits.chars_available(1.0) == 400
    assert limits.chars_delay(400, 1.0) == 0.0
    assert limits.chars_delay(401, 1.0) == 59.0
    assert limits.chars_delay(0, 1.0) == 0.0
    # A send stops counting exactly one window later.
    assert limits.chars_in_window(59.999) == 2000
    assert limits.chars_in_window(60.0) == 0
    assert limits.chars_delay(2400, 60.0) == 0.0


def test_chars_delay_waits_for_enough_sends_to_expire() -> None:
    limits = SpeakLimits()
    limits.record_chars(1000, 0.0)
    limits.record_chars(1000, 10.0)
    limits.record_chars(400, 20.0)
    assert limits.chars_available(30.0) == 0
    assert limits.chars_delay(1, 30.0) == 30.0  # the send at 0 expires at 60
    assert limits.chars_delay(1000, 30.0) == 30.0
    assert limits.chars_delay(1001, 30.0) == 40.0  # needs the send at 10 gone too
    assert limits.chars_delay(2400, 30.0) == 50.0


def test_flush_delay() -> None:
    limits = SpeakLimits()
    for second in range(20):
        assert limits.flush_delay(float(second)) == 0.0
        limits.record_flush(float(second))
    assert limits.flushes_in_window(19.5) == 20
    assert limits.flush_delay(19.5) == 40.5
    assert limits.flush_delay(60.0) == 0.0
    limits.record_flush(60.0)
    assert limits.flush_delay(60.0) == 1.0  # now the flush at 1 is the oldest that counts


def test_custom_limits_and_bad_arguments() -> None:
    limits = SpeakLimits(max_chars=10, max_flushes=1, window=5.0)
    limits.record_flush(0.0)
    assert limits.flush_delay(1.0) == 4.0
    with pytest.raises(ValueError, match="never fit"):
        limits.chars_delay(11, 0.0)
    with pytest.raises(ValueError, match="negative"):
        limits.chars_delay(-1, 0.0)
    with pytest.raises(ValueError, match="negative"):
        limits.record_chars(-1, 0.0)
    with pytest.raises(ValueError, match="backwards"):
        limits.record_chars(1, -1.0)
    with pytest.raises(ValueError, match="number"):
        limits.record_flush(float("nan"))
    with pytest.raises(ValueError):
        SpeakLimits(max_chars=0)
    with pytest.raises(ValueError):
        SpeakLimits(window=0.0)
    with pytest.raises(ValueError):
        SpeakLimits(window=float("inf"))


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 2400), st.booleans()),
        max_size=60,
    )
)
def test_a_sender_that_waits_as_told_never_exceeds_the_limits(
    script: list[tuple[int, int, bool]],
) -> None:
    # Whole-second times keep the float arithmetic exact.
    limits = SpeakLimits()
    now = 0.0
    sent: list[tuple[float, int]] = []
    flushes: list[float] = []
    for gap, count, flush in script:
        now += gap
        delay = limits.chars_delay(count, now)
        if delay > 0:
            # Waiting was necessary, and one second less would not do.
            assert limits.chars_in_window(now) + count > limits.max_chars
            assert limits.chars_in_window(now + delay - 1) + count > limits.max_chars
        now += delay
        assert limits.chars_in_window(now) + count <= limits.max_chars
        limits.record_chars(count, now)
        sent.append((now, count))
        if flush:
            delay = limits.flush_delay(now)
            if delay > 0:
                assert limits.flushes_in_window(now + delay - 1) >= limits.max_flushes
            now += delay
            limits.record_flush(now)
            flushes.append(now)
    for end, _ in sent:
        assert sum(n for at, n in sent if end - WINDOW < at <= end) <= 2400
    for end in flushes:
        assert sum(1 for at in flushes if end - WINDOW < at <= end) <= 20
