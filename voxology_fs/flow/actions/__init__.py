"""Call flow actions: one module per family, one class per action type.

Importing this package registers every action in :data:`REGISTRY`.
"""

from . import call, conference, connect, control, data, detect, dial, media, queue, record, sms  # noqa: F401  (registers the actions)
from .base import REGISTRY, Action, Param  # noqa: F401
