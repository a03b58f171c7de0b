"""Evaluation: I3D port, FVD, timing, tables, plots, media and the run harness."""
