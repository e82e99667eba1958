"""Messages of Deepgram's streaming text-to-speech socket, ``/v1/speak``.

Field shapes follow ``protocol.md`` §4 and the captures in ``fixtures/speak-v1``
(where the two disagree the capture wins). Audio arrives as binary frames,
which sessions deliver as :class:`~dgtrio._common.AudioChunk`; everything here
is a text frame.

Two name pairs for one thing
----------------------------
The server's ``Warning`` was captured as ``{"warn_code", "warn_msg"}`` (the
shape the older official SDK modelled), while the current SDK and the spec
say ``{"code", "description"}``. The only JSON ``Error`` seen (a mock in an
official SDK's tests) uses ``err_code`` / ``err_msg``. Rather than guess which
the server sends today, :class:`Warning` and :class:`Error` model every
spelling as its own optional field, so a frame decodes, and re-encodes, exactly
as it was sent. Read them through the normalised properties
:attr:`~Warning.effective_code` and :attr:`~Warning.effective_description`,
which return whichever spelling is present (the spec's ``code`` /
``description`` first). ``str(warning)`` uses them too.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import attrs

from ..._codec import Schema, UnknownMessage
from ..._common import AudioChunk

__all__ = [
    "SCHEMA",
    "Clear",
    "Cleared",
    "Close",
    "Error",
    "Flush",
    "Flushed",
    "Metadata",
    "Speak",
    "SpeakV1ClientMessage",
    "SpeakV1ControlMessage",
    "SpeakV1Event",
    "SpeakV1ServerMessage",
    "SpeakV1TextMessage",
    "Warning",
]


def _first(*values: str | None) -> str | None:
    for value in values:
        if value is not None:
            return value
    return None


def _describe(kind: str, code: str | None, description: str | None) -> str:
    if code and description:
        return f"{code}: {description}"
    return code or description or kind


# --- server messages -------------------------------------------------------


@attrs.frozen(slots=False)
class Metadata:
    """Sent once, right after the handshake: which voice model serves the session."""

    type: ClassVar[str] = "Metadata"

    request_id: str
    model_name: str = ""
    model_version: str = ""
    model_uuid: str = ""
    #: Further models involved, when there are any (never seen in captures).
    additional_model_uuids: tuple[str, ...] | None = None


@attrs.frozen(slots=False)
class Flushed:
    """All audio for the text flushed so far has been sent.

    ``sequence_id`` numbers the flushes of the connection; captures show ``0``
    for a connection's first flush.
    """

    type: ClassVar[str] = "Flushed"

    sequence_id: int


@attrs.frozen(slots=False)
class Cleared:
    """The server dropped its buffered text and audio after a ``Clear``."""

    type: ClassVar[str] = "Cleared"

    sequence_id: int


@attrs.frozen(slots=False)
class Warning:  # the wire name; this module never needs the builtin
    """A problem the server can live with, such as ``EXCESSIVE_FLUSH``.

    The server has used two spellings (see the module docstring); each is a
    field here, and :attr:`effective_code` / :attr:`effective_description`
    return whichever is present.

    Attributes:
        code: The code, spec spelling.
        description: The explanation, spec spelling.
        warn_code: The code, spelling seen on the wire.
        warn_msg: The explanation, spelling seen on the wire.
    """

    type: ClassVar[str] = "Warning"

    code: str | None = None
    description: str | None = None
    warn_code: str | None = None
    warn_msg: str | None = None

    @property
    def effective_code(self) -> str | None:
        """``code``, else ``warn_code``: the warning's code in either spelling."""
        return _first(self.code, self.warn_code)

    @property
    def effective_description(self) -> str | None:
        """``description``, else ``warn_msg``: the explanation in either spelling."""
        return _first(self.description, self.warn_msg)

    def __str__(self) -> str:
        return _describe("Warning", self.effective_code, self.effective_description)


@attrs.frozen(slots=False)
class Error:
    """A JSON error report (the server usually just closes with a reason code instead).

    No real frame has been captured; the fields cover every spelling found in
    official SDKs and specs. :attr:`effective_code` and
    :attr:`effective_description` return whichever is present.

    Attributes:
        code: The code, spec spelling.
        description: The explanation, spec spelling.
        err_code: The code, as the HTTP error bodies and an SDK mock spell it.
        err_msg: The explanation, same spelling.
        request_id: The request id, when the server includes it.
    """

    type: ClassVar[str] = "Error"

    code: str | None = None
    description: str | None = None
    err_code: str | None = None
    err_msg: str | None = None
    request_id: str | None = None

    @property
    def effective_code(self) -> str | None:
        """``code``, else ``err_code``: the error's code in either spelling."""
        return _first(self.code, self.err_code)

    @property
    def effective_description(self) -> str | None:
        """``description``, else ``err_msg``: the explanation in either spelling."""
        return _first(self.description, self.err_msg)

    def __str__(self) -> str:
        return _describe("Error", self.effective_code, self.effective_description)


# --- client messages -------------------------------------------------------


@attrs.frozen(slots=False)
class Speak:
    """Text to add to the server's buffer; at most 2000 characters per message.

    Longer text is refused by the server (close code 1009, ``BIG-0001``);
    :func:`dgtrio.speak._text.split_text` cuts it at sentence and word
    boundaries.
    """

    type: ClassVar[str] = "Speak"

    text: str


@attrs.frozen(slots=False)
class Flush:
    """Synthesize the buffered text now; answered by ``Flushed``.

    The server accepts 20 flushes per 60 seconds and warns (``EXCESSIVE_FLUSH``)
    and ignores the rest.
    """

    type: ClassVar[str] = "Flush"


@attrs.frozen(slots=False)
class Clear:
    """Drop buffered text and audio and stop sending audio (barge-in); answered by ``Cleared``."""

    type: ClassVar[str] = "Clear"


@attrs.frozen(slots=False)
class Close:
    """End the session; the server closes the connection (code 1000)."""

    type: ClassVar[str] = "Close"


@attrs.frozen(slots=False)
class SpeakV1TextMessage:
    """The official SDK's text message: ``SpeakV1TextMessage(text="Hello")``.

    ``type="Speak"`` may be passed as well, as the SDK requires. Sessions
    accept it wherever they accept :class:`Speak`.
    """

    type: Literal["Speak"] = attrs.field(
        default="Speak", kw_only=True, validator=attrs.validators.in_(("Speak",))
    )
    text: str

    def to_message(self) -> Speak:
        """Return the typed :class:`Speak` message."""
        return Speak(self.text)


@attrs.frozen(slots=False)
class SpeakV1ControlMessage:
    """The official SDK's generic control message: ``SpeakV1ControlMessage(type="Flush")``.

    Sessions accept it and turn it into the typed message.
    """

    type: Literal["Flush", "Clear", "Close"] = attrs.field(
        validator=attrs.validators.in_(("Flush", "Clear", "Close"))
    )

    def to_message(self) -> Flush | Clear | Close:
        """Return the typed message this control message stands for."""
        classes: dict[str, type[Flush | Clear | Close]] = {
            "Flush": Flush,
            "Clear": Clear,
            "Close": Close,
        }
        return classes[self.type]()


SpeakV1ServerMessage: TypeAlias = Metadata | Flushed | Cleared | Warning | Error
#: Everything ``async for event in session`` can yield on ``/v1/speak``: binary
#: frames arrive as :class:`~dgtrio._common.AudioChunk`.
SpeakV1Event: TypeAlias = SpeakV1ServerMessage | AudioChunk | UnknownMessage
SpeakV1ClientMessage: TypeAlias = Speak | Flush | Clear | Close

#: The ``/v1/speak`` schema: both directions, used by the client and by dgtrio.testing.
SCHEMA: Schema[SpeakV1ServerMessage, SpeakV1ClientMessage] = Schema(
    "speak.v1",
    server=[Metadata, Flushed, Cleared, Warning, Error],
    client=[Speak, Flush, Clear, Close],
)
