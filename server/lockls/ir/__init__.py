"""The control flow of the analysis, as data: what rules read and report."""
