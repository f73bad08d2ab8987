"""A shared link to a page, opened as the first request a freshly started server sees.

Each test gets its own new server: the failure this guards against (a page run without ``app.py``'s shell
because Streamlit took a ``pages/`` folder for old-style pages) only shows before the root was ever opened.
"""

from __future__ import annotations

import pytest

from tests.e2e.browser import new_page
from tests.e2e.server import carrydesk_server

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("path", "heading"),
    [("funding?sym=ETH", "Funding"), ("term_structure?base=ETH", "Term structure")],
)
def test_direct_link_on_a_fresh_server_runs_inside_the_app_shell(browser, tmp_path, path, heading):
    with carrydesk_server(tmp_path) as url, new_page(browser) as page:
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=90_000)
        # app.py's shell: the source badge and the router's navigation with every page
        assert "SIMULATED" in page.locator(".cd-source-badge").inner_text(timeout=30_000).upper()
        nav = page.get_by_test_id("stSidebarNav")
        for title in ("Overview", "Term structure", "Perp premium", "Funding"):
            nav.get_by_text(title, exact=True).wait_for()
        assert page.url.startswith(f"{url}/{path.split('?')[0]}")
