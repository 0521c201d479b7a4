"""Mergeable data profiles and the statistics that compare them (pure; any worker imports it)."""
