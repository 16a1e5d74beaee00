"""The project files users write: models, loading with file:line errors, cross-checks, schemas."""
