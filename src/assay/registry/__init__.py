"""Model registry: model versions, signatures, aliases, load-any-version-as-predictor."""
