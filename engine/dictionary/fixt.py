"""Which dictionary validates which part of a message.

A FIX.4.x session has one dictionary for everything.  A FIXT.1.1 session
has a transport dictionary (FIXT11.xml: header, trailer and the session
messages) and one or more application dictionaries (FIX50*.xml), chosen per
message by ApplVerID(1128) in the header, else by the session's default
(DefaultApplVerID(1137) of the Logon, or configuration).

:meth:`SessionDictionaries.for_message` answers with the pair QuickFIX
passes to ``DataDictionary::validate``: the session dictionary (header and
trailer) and the application dictionary (MsgType, required fields, body).
For an admin message both are the transport dictionary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..codec.message import Message
from ..codec.tags import ADMIN_MSG_TYPES, APPL_VER_ID
from ..errors import ConfigError
from .model import APPL_VER_IDS, DataDictionary


class SessionDictionaries:
    """The dictionaries of one session."""

    __slots__ = ("_apps", "default_appl_ver_id", "transport")

    def __init__(
        self,
        transport: DataDictionary,
        apps: DataDictionary | Iterable[DataDictionary] | None = None,
        default_appl_ver_id: str | None = None,
    ) -> None:
        """``transport`` alone: a FIX.4.x session.  With ``apps``: FIXT.1.1.

        ``default_appl_ver_id`` is an ApplVerID value ("9") or a version
        name ("FIX.5.0SP2"); it defaults to the only application
        dictionary when there is one.
        """
        self.transport = transport
        if apps is None:
            app_list = [transport]
        elif isinstance(apps, DataDictionary):
            app_list = [apps]
        else:
            app_list = list(apps)
        if not app_list:
            raise ConfigError("a FIXT session needs at least one application dictionary")
        self._apps: dict[str, DataDictionary] = {}
        for dd in app_list:
            key = dd.appl_ver_id
            if key is None:
                if dd is transport:
                    key = ""
                else:
                    raise ConfigError(
                        f"{dd.path or dd.version}: not an application dictionary "
                        "(no ApplVerID for its version)"
                    )
            self._apps[key] = dd
        if default_appl_ver_id is not None:
            self.default_appl_ver_id: str | None = _appl_ver_id(default_appl_ver_id)
            if self.default_appl_ver_id not in self._apps:
                raise ConfigError(
                    f"DefaultApplVerID {default_appl_ver_id}: no application dictionary "
                    f"for it (have {', '.join(sorted(self._apps)) or 'none'})"
                )
        elif len(self._apps) == 1:
            self.default_appl_ver_id = next(iter(self._apps))
        else:
            self.default_appl_ver_id = None

    @property
    def apps(self) -> Mapping[str, DataDictionary]:
        """Application dictionaries by ApplVerID value."""
        return self._apps

    def app(self, appl_ver_id: str | bytes | None = None) -> DataDictionary | None:
        """The application dictionary for an ApplVerID (default when None)."""
        if isinstance(appl_ver_id, bytes):
            appl_ver_id = appl_ver_id.decode("ascii", "replace")
        key = self.default_appl_ver_id if appl_ver_id is None else appl_ver_id
        if key is None:
            return None
        return self._apps.get(key)

    def with_default(self, appl_ver_id: str) -> SessionDictionaries:
        """A copy whose default is the DefaultApplVerID a Logon announced."""
        return SessionDictionaries(self.transport, self._apps.values(), appl_ver_id)

    def for_message(self, msg: Message) -> tuple[DataDictionary, DataDictionary]:
        """(session dictionary, application dictionary) for ``msg``."""
        transport = self.transport
        msg_type = msg.msg_type
        if msg_type in ADMIN_MSG_TYPES or transport.is_admin(msg_type):
            return transport, transport
        app = None
        appl_ver_id = msg.get(APPL_VER_ID)
        if appl_ver_id is not None:
            app = self.app(appl_ver_id)
        if app is None:
            app = self.app()
        return transport, app if app is not None else transport


def _appl_ver_id(value: str) -> str:
    if value in APPL_VER_IDS.values():
        return value
    found = APPL_VER_IDS.get(value)
    if found is None:
        raise ConfigError(f"DefaultApplVerID {value!r} is neither an ApplVerID nor a version")
    return found
