"""The WSGI entry gunicorn's workers import, each after its fork.

Settings come from ``VOXOLOGY_SETTINGS_JSON`` (set by ``serve_api``), or
else from the usual config file and environment.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from .. import settings as settings_mod  # noqa: E402
from ..heap import freeze_startup_objects  # noqa: E402
from . import SETTINGS_ENV, create_app, settings_from_json  # noqa: E402

_text = os.environ.get(SETTINGS_ENV)
app = create_app(settings_from_json(_text) if _text else settings_mod.load())
freeze_startup_objects()
