"""UI pieces: formatting, source/freshness badges, table and figure builders (pure), and ``ui`` renderers.

Only ``components.ui`` imports streamlit; everything else is pure and tested without a browser.
"""
