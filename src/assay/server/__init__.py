"""The assay team server: REST API (``/api/v1``, OpenAPI), token auth and roles, and the web UI.

Example::

    from assay.server import create_app
    app = create_app()          # the default client's stores; serve with uvicorn
"""

from assay.server.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
