"""Counting the dead: victim records, linkage, and estimates of the undocumented."""
