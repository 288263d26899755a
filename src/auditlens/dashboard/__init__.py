"""The risk dashboard (``auditlens serve dashboard``): Streamlit pages over the read model.

``app.py`` is the Streamlit script (login gate, language, navigation); ``resources``
keeps one Store, Authenticator and pseudonym index per server process and builds each
session's :class:`auditlens.api.routes.common.Context`; ``login`` proves the principal
(API key or OIDC token, as the API does); ``widgets`` holds what pages share (numbers and
times the Korean way, severity colours, the period picker, in-app links); ``pages/`` has
one module per page, each ``render(ctx)``.

Pages read through :mod:`auditlens.views` only, so they show the API's numbers.
"""
