"""What is written from a run's result records: tables, plots, paired differences, video grids."""
