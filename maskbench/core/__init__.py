"""Backbone, tokenizers, data, rollout driver, NFE counting and the plugin manager."""
