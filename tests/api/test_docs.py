"""The README documents every setting there is."""

from pathlib import Path

from django_scheduler_api.conf import DEFAULTS

README = Path(__file__).resolve().parents[2] / "README.rst"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text()
    missing = [key for key in DEFAULTS if f"   * - ``{key}``" not in text]
    assert not missing, f"README.rst does not document: {missing}"
