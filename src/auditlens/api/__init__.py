"""The risk service over HTTP (``auditlens serve api``): FastAPI app, authentication, roles.

``app.create_app(settings)`` builds the application; ``auth`` proves the caller (API key
or OIDC bearer token) and checks roles; ``problems`` turns every error into RFC 9457
``application/problem+json``. Nothing but ``/healthz`` and ``/readyz`` answers without a
principal. This layer sits under ``cli`` and above ``pipeline``: it never imports ``cli``.
"""
