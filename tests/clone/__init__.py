"""Tests of the clone providers that need more than the dry-run pipeline tests give."""
