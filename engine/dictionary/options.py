"""Validation options, named after the QuickFIX session settings users know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """What :func:`~.validate.validate` checks.  Defaults are QuickFIX's."""

    #: UseDataDictionary: validate at all.
    use_data_dictionary: bool = True
    #: ValidateFieldsOutOfOrder: header field after the body -> reason 14.
    validate_fields_out_of_order: bool = True
    #: ValidateFieldsHaveValues: empty value -> reason 4.
    validate_fields_have_values: bool = True
    #: ValidateUserDefinedFields: check tags >= 5000 against the dictionary.
    validate_user_defined_fields: bool = True
    #: AllowUnknownMsgFields: tags < 5000 not in the dictionary / message are let through.
    allow_unknown_msg_fields: bool = False
    #: ValidateUnorderedGroupFields: group entry fields must follow dictionary order.
    validate_unordered_group_fields: bool = True
    #: CheckLatency / MaxLatency (seconds): carried for the session layer only.
    check_latency: bool = True
    max_latency: int = 120
    #: Not a QuickFIX setting: reject a positive tag the dictionary does not
    #: define with 3 "Undefined Tag" (the FIX specification's distinction)
    #: instead of QuickFIX's 0 "Invalid tag number".
    distinguish_undefined_tags: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, str | bool | int]) -> ValidationOptions:
        """Read QuickFIX-style settings (``ValidateFieldsHaveValues=N`` ...).

        Unknown keys are ignored (a session's settings hold many other
        things); a malformed Y/N or number is a ConfigError naming the key.
        """
        values: dict[str, Any] = {}
        for key, attr in _SETTING_NAMES.items():
            if key not in settings:
                continue
            raw = settings[key]
            if attr == "max_latency":
                try:
                    values[attr] = int(raw)
                except (TypeError, ValueError):
                    raise ConfigError(f"{key}={raw!r}: expected a number of seconds") from None
            elif isinstance(raw, bool):
                values[attr] = raw
            elif isinstance(raw, str) and raw.upper() in ("Y", "N"):
                values[attr] = raw.upper() == "Y"
            else:
                raise ConfigError(f"{key}={raw!r}: expected Y or N")
        return replace(cls(), **values)

    def settings(self) -> dict[str, str]:
        """These options as QuickFIX settings text."""
        out: dict[str, str] = {}
        for key, attr in _SETTING_NAMES.items():
            value = getattr(self, attr)
            out[key] = str(value) if isinstance(value, int) and not isinstance(
                value, bool
            ) else ("Y" if value else "N")
        return out


_SETTING_NAMES: Final[dict[str, str]] = {
    "UseDataDictionary": "use_data_dictionary",
    "ValidateFieldsOutOfOrder": "validate_fields_out_of_order",
    "ValidateFieldsHaveValues": "validate_fields_have_values",
    "ValidateUserDefinedFields": "validate_user_defined_fields",
    "AllowUnknownMsgFields": "allow_unknown_msg_fields",
    "ValidateUnorderedGroupFields": "validate_unordered_group_fields",
    "CheckLatency": "check_latency",
    "MaxLatency": "max_latency",
}

assert set(_SETTING_NAMES.values()) <= {f.name for f in fields(ValidationOptions)}

DEFAULT_OPTIONS: Final = ValidationOptions()
