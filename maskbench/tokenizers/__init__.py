"""Tokenizers: the interface (pixels <-> token ids), the shipped VQ, its training and its evaluation."""
