"""Project configuration: what a configuration can say (`model`), how `.lockls.toml`
is found, read, checked and shown (`load`), include/exclude globs (`globs`), and
the built-in presets (`presets/*.toml`).

The names other layers use are re-exported here.
"""

from lockls.config.globs import glob_matches
from lockls.config.load import (DISCOVERY_WARNINGS, ConfigError, available_presets, clear_config_cache, config_for,
                                config_from_text, default_config, find_config_file, format_key, load_config,
                                locate_entry, preset_functions, show_config, show_function, toml_key, toml_string, toml_value)
from lockls.config.model import (ACTIONS, ANNOTATION_MEANINGS, CONFIG_FILE_NAMES, HELD_TESTS, OUTCOMES, SCOPES,
                                 SEVERITIES, Config, GuardedData, LockClass, LockFunction, LockKind, LockPattern)

__all__ = [
    "glob_matches", "DISCOVERY_WARNINGS", "ConfigError", "available_presets", "clear_config_cache", "config_for",
    "config_from_text", "default_config", "find_config_file", "format_key", "load_config", "locate_entry",
    "preset_functions", "show_config", "show_function", "toml_key", "toml_string", "toml_value", "ACTIONS", "ANNOTATION_MEANINGS", "CONFIG_FILE_NAMES",
    "HELD_TESTS", "OUTCOMES", "SCOPES", "SEVERITIES", "Config", "GuardedData", "LockClass", "LockFunction",
    "LockKind", "LockPattern",
]
