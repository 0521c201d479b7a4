"""conveyor.yaml: schema, loading with environment overlays, and secret handling."""

from conveyor.config.loader import CONFIG_FILE, LoadedConfig, load_config
from conveyor.config.schema import EnvironmentSpec, ProjectConfig

__all__ = ["CONFIG_FILE", "EnvironmentSpec", "LoadedConfig", "ProjectConfig", "load_config"]
