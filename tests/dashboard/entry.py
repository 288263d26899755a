"""The dashboard as AppTest runs it: ``app.main()`` from a script outside the package.

Streamlit treats a ``pages/`` folder beside the main script as old-style page files, and
AppTest re-detects that folder before every run; the dashboard's ``pages/`` package
holds modules, not scripts, so the tests run the app from here (``auditlens serve
dashboard`` switches that detection off instead: dashboard/server.py).
"""

from auditlens.dashboard.app import main

main()
