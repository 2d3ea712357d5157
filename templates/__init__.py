"""The report's Jinja2 templates, shipped as package data."""
