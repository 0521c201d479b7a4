"""Pure building blocks every layer shares: config, model refs, stages, tags, errors."""
