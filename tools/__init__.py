"""The example project's tools (`tools:` in crew.yaml)."""
