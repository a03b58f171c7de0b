"""Backbone training (paper Algorithm 1) under DeepSpeed: config, masking, loop, EMA, held-out loss."""
