"""One scoring core: a registered version loaded as a Scorer, used by every feature."""
