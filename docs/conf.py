"""Sphinx configuration for dgtrio's documentation."""

project = "dgtrio"
author = "The dgtrio developers"
copyright = "2026, The dgtrio developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
master_doc = "index"
exclude_patterns = ["_build", "examples", "_generated"]
html_theme = "alabaster"
