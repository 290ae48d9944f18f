"""Findings as the user sees them: positions, related places, output formats, rule pages."""
