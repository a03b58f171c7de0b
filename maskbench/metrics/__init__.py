"""Metrics: the I3D feature extractor, FVD, KVD and their intervals, timing; pure functions of arrays."""
