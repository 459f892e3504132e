"""Every setting is in the README's configuration table, with its default."""

from app import ROOT
from scripts.config_table import table


def test_readme_configuration_table_matches_settings():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-table:start -->")
    end = readme.index("<!-- config-table:end -->")
    assert readme[start:end].split("\n", 1)[1].strip() == table(), (
        "README configuration table is stale: run `python scripts/config_table.py`"
    )
