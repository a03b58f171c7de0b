"""The run harness: configs, run context, cells, NFE counting, result store, experiment grids."""
