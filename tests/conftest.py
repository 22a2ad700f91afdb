"""Suite-wide settings."""

from __future__ import annotations

import os
import tempfile

# The parse cache of every test run goes to a throwaway folder, never the user's ~/.cache.
os.environ["SAFEMIGRATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="safemigrate-test-cache-")
