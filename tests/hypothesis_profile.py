"""Hypothesis settings for the suite, loaded as the pytest plugin `tests.hypothesis_profile`."""

import os

from hypothesis import settings

# CI runs must not depend on luck: derandomised hypothesis runs explore the same examples every
# time (locally, the default random exploration keeps finding new cases).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
