"""One root for every error the engine raises.

Two families are kept apart:

* protocol errors, split into *local* (our side is about to break the
  protocol, e.g. an application tries to send a malformed message) and
  *remote* (the counterparty sent something wrong).  A remote error carries
  the FIX session reject to send back: SessionRejectReason(373), the tag it
  refers to (371) and a text (58);
* operational errors, split into *retryable* (a database that is restarting,
  a connection refused) and *permanent* (bad configuration).
"""

from __future__ import annotations


class FixError(Exception):
    """Root of every error raised by the engine."""


class ProtocolError(FixError):
    """A violation of the FIX protocol."""


class LocalProtocolError(ProtocolError):
    """Our side would violate the protocol (bad message built by the caller)."""


class RemoteProtocolError(ProtocolError):
    """The counterparty violated the protocol.

    ``reason`` is a SessionRejectReason(373) code, ``ref_tag`` the tag the
    problem is about (RefTagID, 371) when there is one.
    """

    def __init__(self, text: str, reason: int | None = None, ref_tag: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.reason = reason
        self.ref_tag = ref_tag


class GarbledMessageError(RemoteProtocolError):
    """A frame that cannot be trusted at all: it is ignored, never rejected."""


class FieldValueError(FixError, ValueError):
    """A field value does not have the format its type requires."""


class ConfigError(FixError):
    """Bad configuration; permanent, with a message naming the setting."""


class RetryableError(FixError):
    """An operational failure that may go away (network, database restart)."""


class PermanentError(FixError):
    """An operational failure that retrying will not fix."""


class ApplicationError(FixError):
    """Base of the exceptions callbacks raise to steer the engine."""


class UnsupportedMessageType(ApplicationError):
    """Raised by ``from_app``: answer with BusinessMessageReject reason 3
    (a session Reject before FIX.4.2)."""


class BusinessReject(ApplicationError):
    """Raised by ``from_app``: answer with a BusinessMessageReject."""

    def __init__(self, reason: int, text: str | None = None, ref_tag: int | None = None) -> None:
        super().__init__(text or f"business reject {reason}")
        self.reason = reason
        self.text = text
        self.ref_tag = ref_tag


class FieldNotFound(ApplicationError):
    """Raised by ``from_app``: a conditionally required field is missing."""

    def __init__(self, tag: int) -> None:
        super().__init__(f"field {tag} not found")
        self.tag = tag


class IncorrectTagValue(ApplicationError):
    """Raised by ``from_app``: a field has a value the application cannot take."""

    def __init__(self, tag: int) -> None:
        super().__init__(f"incorrect value for tag {tag}")
        self.tag = tag


#: What ``from_app`` may raise to have the session answer with a reject
#: (``Session.app_rejected`` picks BusinessMessageReject or session Reject).
APP_REJECTIONS = (UnsupportedMessageType, BusinessReject, FieldNotFound, IncorrectTagValue)
AppRejection = UnsupportedMessageType | BusinessReject | FieldNotFound | IncorrectTagValue
