"""All configuration, read once from the environment (and an optional `.env`).

`Settings` (`core.py`) holds every setting; its security and live-execution
groups live in `security.py` and `live.py`.
"""

from gateway.settings.core import Settings, SettingsError, env_name, load_settings
from gateway.settings.security import CORS_ALLOW_HEADERS

__all__ = ["CORS_ALLOW_HEADERS", "Settings", "SettingsError", "env_name", "load_settings"]
