"""Tenancy matrix entries of search (see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {
    "search.page": ("GET", "/w/{slug}/search"),
}
API: dict[str, tuple[str, str]] = {
    "api_search.search": ("GET", "/api/v1/search"),
    "api_search.search_filters": ("GET", "/api/v1/search/filters"),
}
