"""Typed engine configuration (pydantic v2).

These models are the single source of truth for settings: the engine reads
them from YAML (or QuickFIX ``.cfg`` files, see :mod:`.cfgfile`), and the
operator writes the very same schema into its CRDs and ConfigMaps.

Loading (:func:`load_config`, :func:`parse_config`) is a pipeline over plain
data, each step on the raw mapping before pydantic sees it:

1. read the YAML file (or convert the ``.cfg`` file);
2. canonicalise keys: ``snake_case`` and ``camelCase`` both become the
   camelCase alias, so the later steps see one spelling;
3. apply ``FIXPLUS__<PATH>`` environment overrides;
4. resolve ``${ENV:NAME}`` and ``${FILE:/path}`` secret references, which
   only the secret settings take (:data:`SECRET_SESSION_SETTINGS` and the
   user:password part of ``store``): a reference anywhere else is an error,
   so that a secret never lands in a label, a log line or a session id;
5. merge ``defaults`` under every session and dynamic session template;
6. validate; every pydantic error becomes one line of a :class:`InvalidConfigError`
   naming the file, the setting path (``sessions[1].heartbeatInterval``) and
   the problem.

The package imports nothing from the engine but :mod:`..errors` and the
FIX versions of :mod:`..codec.versions`: the operator imports it.  Its
modules, lowest first (an import contract in ``pyproject.toml``):
:mod:`.base` (the model base, errors), :mod:`.keys` (key spellings, paths),
the models by concern (:mod:`.schedule`, :mod:`.transport`, :mod:`.auth`,
:mod:`.store`, :mod:`.observability`, then :mod:`.session`,
:mod:`.dynamic`, :mod:`.engine`), then loading (:mod:`.references`,
:mod:`.yamlfile`, :mod:`.pipeline`), the QuickFIX reader (:mod:`.cfgkeys`,
:mod:`.cfgconvert`, :mod:`.cfgfile`) and :mod:`.loader` on top; this
``__init__`` only gathers the public names.

Field names are snake_case in Python and camelCase in YAML/JSON (both are
accepted on input).  Every model forbids unknown keys so that a typo is a
precise error instead of a silently ignored setting.
"""

from __future__ import annotations

from ..codec.versions import APPL_VER_IDS, BEGIN_STRINGS, BeginString
from .auth import PASSWORD_HASH_PREFIX, AuthenticationSettings, CertificateIdentity
from .base import CompID, ConfigModel, InvalidConfigError, Loc
from .dynamic import TEMPLATE_PATTERN_FIELDS, WIRE_ID_PATTERN, DynamicSessionTemplate
from .engine import (
    BUSY_POLL_NEEDS_ASYNCIO,
    MAX_BUSY_POLL_US,
    EngineConfig,
    config_json_schema,
    dump_config,
)
from .keys import merge_defaults
from .loader import load_config
from .observability import (
    SERVICE_ACCOUNT_DIR,
    LoggingSettings,
    MessageLogSettings,
    MetricsSettings,
    MetricsTlsSettings,
    ScreenLogSettings,
    TokenReviewSettings,
    TracingSettings,
)
from .pipeline import ENV_PREFIX, parse_config
from .references import SECRET_SESSION_SETTINGS, SECRET_SETTINGS_TEXT, is_secret_setting
from .schedule import ScheduleSettings, Weekday
from .session import Role, SessionSettings, TimestampPrecision, ValidationSettings
from .store import RetentionSettings, StoreFailureSettings, StoreUrl
from .transport import AcceptorLimits, Endpoint, ReconnectSettings, TlsSettings
from .yamlfile import read_yaml, yaml_scalar

__all__ = [
    "APPL_VER_IDS",
    "BEGIN_STRINGS",
    "BUSY_POLL_NEEDS_ASYNCIO",
    "ENV_PREFIX",
    "MAX_BUSY_POLL_US",
    "PASSWORD_HASH_PREFIX",
    "SECRET_SESSION_SETTINGS",
    "SECRET_SETTINGS_TEXT",
    "SERVICE_ACCOUNT_DIR",
    "TEMPLATE_PATTERN_FIELDS",
    "WIRE_ID_PATTERN",
    "AcceptorLimits",
    "AuthenticationSettings",
    "BeginString",
    "CertificateIdentity",
    "CompID",
    "ConfigModel",
    "DynamicSessionTemplate",
    "Endpoint",
    "EngineConfig",
    "InvalidConfigError",
    "Loc",
    "LoggingSettings",
    "MessageLogSettings",
    "MetricsSettings",
    "MetricsTlsSettings",
    "ReconnectSettings",
    "RetentionSettings",
    "Role",
    "ScheduleSettings",
    "ScreenLogSettings",
    "SessionSettings",
    "StoreFailureSettings",
    "StoreUrl",
    "TimestampPrecision",
    "TlsSettings",
    "TokenReviewSettings",
    "TracingSettings",
    "ValidationSettings",
    "Weekday",
    "config_json_schema",
    "dump_config",
    "is_secret_setting",
    "load_config",
    "merge_defaults",
    "parse_config",
    "read_yaml",
    "yaml_scalar",
]
