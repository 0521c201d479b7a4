"""Model lifecycle: training pipeline, evaluation, quality gate, registry, promotion, audit."""
