"""conveyor.yaml: schema, loading with environment overlays, and secret handling."""

from conveyor.core.config.loader import CONFIG_FILE, LoadedConfig, load_config
from conveyor.core.config.schema import EnvironmentSpec, ProjectConfig

__all__ = ["CONFIG_FILE", "EnvironmentSpec", "LoadedConfig", "ProjectConfig", "load_config"]
