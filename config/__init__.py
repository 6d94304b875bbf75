"""The typed settings model, its commented defaults, and the sources file."""

from wirehouse.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
