"""Training the backbone (paper Algorithm 1) through DeepSpeed: config, masking, data, EMA, loop."""
