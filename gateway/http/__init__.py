"""HTTP: raw ASGI event ingest, the REST API, UI and ops pages."""
