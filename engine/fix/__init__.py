"""The typed message API: tag numbers, MsgType and enumerated values, typed
messages per FIX version, the message cracker and the SessionID value type.

>>> from pyfixmsg_plus.engine.fix import fix44, tags
>>> order = fix44.NewOrderSingle()
>>> order.cl_ord_id = "1"
>>> order.side = fix44.Side.BUY

The version modules (``fix40`` ... ``fix50sp2``, ``fixt11``) and ``tags``
are generated from the QuickFIX data dictionaries by :mod:`.generate`; they
are imported only by code that uses them, never by the engine itself.
"""

from ..codec.sessionid import SessionID
from .base import BoolField, DecimalField, FieldDescriptor, IntField, StrField, TypedMessage
from .cracker import MessageCracker

__all__ = [
    "BoolField",
    "DecimalField",
    "FieldDescriptor",
    "IntField",
    "MessageCracker",
    "SessionID",
    "StrField",
    "TypedMessage",
]

