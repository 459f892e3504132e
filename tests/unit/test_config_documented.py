"""Every setting is in the README's configuration table, with its default."""

import pytest
from pydantic import ValidationError

from app import ROOT
from app.config import load_settings
from scripts.config_table import table


def test_readme_configuration_table_matches_settings():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-table:start -->")
    end = readme.index("<!-- config-table:end -->")
    assert readme[start:end].split("\n", 1)[1].strip() == table(), (
        "README configuration table is stale: run `python scripts/config_table.py`"
    )


def test_engine_temperatures_are_read_as_numbers_and_bad_ones_refused():
    assert load_settings(engine_temperatures="0, 0.5").engine_temperature_list == (0.0, 0.5)
    for bad in ("0,warm", "3"):
        with pytest.raises(ValidationError, match="engine_temperatures"):
            load_settings(engine_temperatures=bad)
